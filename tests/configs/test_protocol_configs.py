"""Every evidence-protocol config runs the fast path, builds its model and
trains one step; the DM variants take the paper's settings from
_paper_dm.py."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmpretrain.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(
    path for path in glob.glob(osp.join(ROOT, 'configs', 'protocol', '*.py'))
    if not osp.basename(path).startswith('_'))


def test_protocol_configs_exist():
    assert len(CONFIGS) >= 12


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_fast_path_builds_and_trains_one_step(path):
    cfg = Config.fromfile(path)
    assert cfg.model.data_preprocessor.type == 'BatchTransformPreprocessor'
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        assert loader.collate_fn == dict(type='cached_image_collate')
        dataset = loader.dataset.get('dataset', loader.dataset)
        assert dataset.type == 'CachedImageDataset'
        assert not loader.get('persistent_workers') or loader.num_workers
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    batch = dict(
        inputs=torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8),
        gt_label=torch.arange(4))
    log_vars = model.train_step(batch, optim_wrapper)
    assert torch.isfinite(log_vars['loss'])


# OpenMixup's CIFAR-100 ResNet-18 decouple configs (commit 37e1372,
# configs/classification/cifar100/mixups/decouple/r18/): mixer alpha and
# eta_weight / lam_idx, transcribed.
PAPER_DM = dict(
    Mixup=(0.2, dict(type='DecoupledMixupLoss', eta=0.01, decouple='major',
                     lam_power=0.5)),
    CutMix=(0.2, dict(type='DecoupledMixupLoss', eta=0.1, decouple='minor',
                      lam_power=0.5)))


@pytest.mark.parametrize('path', [p for p in CONFIGS if p.endswith('_dm.py')],
                         ids=osp.basename)
def test_dm_variants_use_the_paper_settings(path):
    cfg = Config.fromfile(path)
    alpha, loss = PAPER_DM[cfg.model.mixer.type]
    assert cfg.model.mixer == dict(type=cfg.model.mixer.type, alpha=alpha)
    assert cfg.model.head.loss == loss


@pytest.mark.parametrize('name', ['automix', 'samix'])
def test_automix_and_samix_anneal_to_openmixups_floor(name):
    """OpenMixup's CIFAR AutoMix/SAMix runs anneal every parameter to
    min_lr 0.05; the static runs to 0."""
    for prefix in ('r18', 'cpu500_r18'):
        cfg = Config.fromfile(
            osp.join(ROOT, 'configs', 'protocol', f'{prefix}_{name}_mce.py'))
        assert cfg.param_scheduler.eta_min == 0.05
        assert cfg.model.mixer.type == dict(automix='AutoMix',
                                            samix='SAMix')[name]
    static = Config.fromfile(
        osp.join(ROOT, 'configs', 'protocol', 'r18_mixup_mce.py'))
    assert static.param_scheduler.eta_min == 0.


def test_mixup_control_differs_from_mce_only_in_dms_alpha():
    """r18_mixup_mce_alpha02.py: DM's mixer, MCE's head, nothing else
    changed, so mixup_dm - control is the loss alone."""
    control, mce, dm = (
        Config.fromfile(osp.join(ROOT, 'configs', 'protocol', name))
        for name in ('r18_mixup_mce_alpha02.py', 'r18_mixup_mce.py',
                     'r18_mixup_dm.py'))
    assert control.model.mixer == dm.model.mixer != mce.model.mixer
    assert control.model.head == mce.model.head
    control.model.mixer = mce.model.mixer
    assert control.to_dict() == mce.to_dict()
