import glob
import os.path as osp
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from mmpretrain.registry import MODELS

from conftest import write_image_folder

sys.path.insert(0, osp.join(osp.dirname(__file__), '..', '..', 'tools'))
import plot_curves  # noqa: E402

CONFIG_DIR = osp.join(osp.dirname(__file__), '..', '..', 'configs', 'semisup')
CONFIGS = sorted(glob.glob(osp.join(CONFIG_DIR, '*.py')))


def name_of(path):
    return osp.splitext(osp.basename(path))[0]


def test_all_settings_are_there():
    names = {name_of(p) for p in CONFIGS}
    expected = set()
    for dm in ('fixmatch', 'fixmatch_dm'):
        expected |= {f'wrn28_2_{dm}_cifar10_{n}' for n in (40, 250, 4000)}
        expected |= {f'wrn28_8_{dm}_cifar100_{n}' for n in (400, 2500, 10000)}
        expected |= {f'r50_{dm}_{data}_{p}pct'
                     for data in ('cub', 'aircraft', 'cars')
                     for p in (15, 30, 50)}
        expected.add(f'wrn28_2_{dm}_cifar10jpeg_250_short')
    assert names == expected


@pytest.mark.parametrize('path', CONFIGS, ids=name_of)
def test_config_loads_and_builds_its_model(path):
    cfg = Config.fromfile(path)
    name = name_of(path)
    model = MODELS.build(cfg.model)  # no init_weights: nothing downloaded
    assert type(model).__name__ == 'SemiDMClassifier'
    assert model.dm == ('_dm_' in name)
    assert model.threshold == 0.95 and model.lambda_u == 1.0
    assert model.ema_momentum == 0.999

    loader = cfg.train_dataloader
    assert loader.collate_fn.type == 'semi_supervised_collate'
    assert loader.dataset.type == 'SemiSupervisedDataset'
    optimizer = cfg.optim_wrapper.optimizer
    assert optimizer.type == 'SGD' and optimizer.nesterov
    assert optimizer.momentum == 0.9
    assert cfg.param_scheduler.type == 'CosineAnnealingLR'
    assert cfg.param_scheduler.T_max == cfg.train_cfg.max_iters
    if name.startswith('wrn28'):
        assert loader.batch_size == 64 and loader.dataset.mu == 7
        assert optimizer.lr == 0.03
        assert optimizer.weight_decay == (1e-3 if 'cifar100' in name
                                          else 5e-4)
        assert model.head.num_classes == (100 if 'cifar100' in name else 10)
    if not name.endswith('_short'):
        assert cfg.train_cfg.max_iters == (2**20 if name.startswith('wrn28')
                                           else 30000)
    if 'pct' in name:
        assert loader.dataset.labeled_ratio == int(name[-5:-3]) / 100
    else:
        labels = int(name.split('_')[-1 if 'short' not in name else -2])
        assert loader.dataset.labeled_per_class * model.head.num_classes \
            == labels


@pytest.mark.parametrize('path', [p for p in CONFIGS if '_dm_' in p],
                         ids=name_of)
def test_dm_variant_shares_the_split_of_its_baseline(path):
    dm = Config.fromfile(path)
    baseline = Config.fromfile(path.replace('_fixmatch_dm_', '_fixmatch_'))
    assert dm.train_dataloader.dataset.split_file == \
        baseline.train_dataloader.dataset.split_file
    assert dm.train_dataloader.dataset.split_file is not None
    assert dm.model.mixer == dict(type='Mixup', alpha=1.0)
    assert dm.model.dm_loss == dict(type='DecoupledMixupLoss', eta=0.1)


def test_short_cifar10_jpeg_config_trains(tmp_path):
    """The real-run config on a generated ImageFolder tree shaped like the
    CIFAR-10 JPEG copy (train/ and test/), two iterations."""
    root = str(tmp_path / 'cifar10')
    for split in ('train', 'test'):
        write_image_folder(osp.join(root, split), num_classes=10,
                           per_class=3, size=(32, 32))
    cfg = Config.fromfile(
        osp.join(CONFIG_DIR, 'wrn28_2_fixmatch_dm_cifar10jpeg_250_short.py'))
    cfg.merge_from_dict({
        'work_dir': str(tmp_path / 'work'),
        'model.backbone.depth': 10,  # keeps the test fast
        'train_dataloader.batch_size': 2,
        'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'train_dataloader.pin_memory': False,
        'train_dataloader.dataset.labeled_per_class': 1,
        'train_dataloader.dataset.split_file': str(tmp_path / 'split.json'),
        'train_dataloader.dataset.dataset.data_root': root,
        'val_dataloader.num_workers': 0,
        'val_dataloader.persistent_workers': False,
        'val_dataloader.dataset.data_root': root,
        'train_cfg.max_iters': 2,
        'train_cfg.val_interval': 2,
        'param_scheduler.T_max': 2,
        'default_hooks.checkpoint.interval': 2,
        'default_hooks.logger.interval': 1,
        'log_level': 'WARNING',
    })
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 2
    logged = runner.message_hub.log_scalars
    assert torch.isfinite(torch.tensor(logged['train/loss_dm'].current()))
    assert 'val/accuracy/top1' in logged

    # tools/plot_curves.py reads the run's scalars.json.
    curves = plot_curves.read_curves(str(tmp_path / 'work'))
    assert [x for x, _ in curves['mask_ratio']] == [1, 2]
    assert [x for x, _ in curves['val/accuracy/top1']] == [2]
    out = tmp_path / 'curves.png'
    plot_curves.main([str(tmp_path / 'work'), '--out', str(out)])
    assert out.stat().st_size > 0
