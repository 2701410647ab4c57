"""The semi-supervised configs: every setting is there, builds, names its
source and holds the published hyper-parameters; the CPU comparison config
trains (also with num_workers=0)."""
import copy
import functools
import glob
import os.path as osp
import re
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from mmpretrain.registry import MODELS
from torch.utils.data import DataLoader

from conftest import write_image_folder

sys.path.insert(0, osp.join(osp.dirname(__file__), '..', '..', 'tools'))
import plot_curves  # noqa: E402

CONFIG_DIR = osp.join(osp.dirname(__file__), '..', '..', 'configs', 'semisup')
CONFIGS = sorted(glob.glob(osp.join(CONFIG_DIR, '*.py')))
CIFAR = [p for p in CONFIGS if osp.basename(p).startswith('wrn28')]
FINE_GRAINED = [p for p in CONFIGS if osp.basename(p)[:3] in ('r18', 'r50')]
# OpenMixup configs/semisup/selftuning/*/r{18,50}/*_per_{15,30,50}_*.py
EPOCHS = dict(cub=(130, 160, 210), aircraft=(120, 150, 200),
              cars=(100, 120, 160))
CLASSES = dict(cub=200, aircraft=100, cars=196)
WEIGHTS = {18: 'resnet18-f37072fd.pth', 50: 'resnet50-0676ba61.pth'}


def name_of(path):
    return osp.splitext(osp.basename(path))[0]


@functools.lru_cache(maxsize=None)
def parsed(path):
    return Config.fromfile(path)


def load(path):
    """The parsed config (each file is parsed once per session)."""
    return copy.deepcopy(parsed(path))


def builds_model(path):
    """Models are built for every CIFAR config and the CUB 15% ones (the
    other fine-grained configs differ from those in data fields only)."""
    return path in CIFAR or name_of(path).endswith('cub_15pct')


def test_all_settings_are_there():
    names = {name_of(p) for p in CONFIGS}
    expected = set()
    for method in ('fixmatch', 'dmixmatch'):
        expected |= {f'wrn28_2_{method}_cifar10_{n}' for n in (250, 4000)}
        expected |= {f'wrn28_8_{method}_cifar100_{n}'
                     for n in (400, 2500, 10000)}
        expected.add(f'wrn28_2_{method}_cifar10jpeg_250_cpu')
    for method in ('self_tuning', 'dmix_tuning'):
        expected |= {f'{arch}_{method}_{data}_{pct}pct'
                     for arch in ('r18', 'r50') for data in EPOCHS
                     for pct in (15, 30, 50)}
    assert names == expected


@pytest.mark.parametrize('path', CONFIGS, ids=name_of)
def test_config_builds_and_names_its_source(path):
    cfg = load(path)
    name = name_of(path)
    expected = {'fixmatch': 'FixMatch', 'dmixmatch': 'DMixMatch',
                'self_tuning': 'SelfTuning', 'dmix_tuning': 'DMixTuning'}
    method = re.search('fixmatch|dmixmatch|self_tuning|dmix_tuning',
                       name).group()
    model_type = MODELS.get(cfg.model.type)
    assert model_type.__name__ == expected[method]
    if builds_model(path):
        model = MODELS.build(cfg.model)  # no init_weights: no download
        assert model.head.num_classes == cfg.data_preprocessor.num_classes
    with open(path) as f:
        header = f.read().split('\n_base_ = ')[0]
    assert 'OpenMixup' in header or 'FixMatch' in header, name
    loader = cfg.train_dataloader
    assert loader.collate_fn.type == 'semi_supervised_collate'
    assert loader.dataset.type == 'SemiSupervisedDataset'
    assert loader.dataset.get('labeled_views', 1) == model_type.labeled_views
    assert loader.dataset.split_file.startswith('work_dirs/semi_splits/')
    assert cfg.param_scheduler.T_max == cfg.train_cfg.get(
        'max_iters', cfg.train_cfg.get('max_epochs'))
    assert cfg.model.head.num_classes == cfg.data_preprocessor.num_classes


@pytest.mark.parametrize('path', CIFAR, ids=name_of)
def test_cifar_settings(path):
    cfg = load(path)
    name = name_of(path)
    model, optimizer = cfg.model, cfg.optim_wrapper.optimizer
    dataset = cfg.train_dataloader.dataset
    cifar100 = 'cifar100' in name
    assert model.threshold == 0.95 and model.lambda_u == 1.0
    assert optimizer.type == 'SGD' and optimizer.lr == 0.03
    assert optimizer.momentum == 0.9
    assert optimizer.weight_decay == (1e-3 if cifar100 else 5e-4)
    assert cfg.optim_wrapper.paramwise_cfg == dict(norm_decay_mult=0.,
                                                   bias_decay_mult=0.)
    assert cfg.param_scheduler.eta_min_ratio == 0.2
    assert model.backbone.widen_factor == (8 if cifar100 else 2)
    assert cfg.train_dataloader.batch_size == (8 if 'cpu' in name else 64)
    assert dataset.mu == 7 and dataset.unlabeled_pool == 'all'
    labels = int(re.search(r'_(\d+)(_cpu)?$', name).group(1))
    assert dataset.labeled_per_class * model.head.num_classes == labels
    strong = dataset.strong_pipeline[-2]
    assert strong == dict(type='FixMatchRandAugment', num_ops=2,
                          max_level=10, op_prob=0.5, cutout=16)
    if 'dmixmatch' in name:  # OpenMixup's DMixMatch config
        assert not optimizer.nesterov
        assert model.mix_loss == dict(type='DecoupledMixupLoss', eta=1.0,
                                      lam_weighted=True)
        assert model.get('mix_head') is None  # a separate copy of the head
        assert (model.alpha, model.lam_bias) == (1.0, 'labeled')
        assert (model.ll_weight, model.lu_weight) == (1.0, 1.0)
        assert model.lu_ramp == 'compounded_cosine'
        assert model.mix_threshold == 0.95 and model.ema_ramp_start == 0.1
        if 'cpu' not in name:
            assert (model.ema_momentum, model.ema_end_momentum) == (0.999,
                                                                    0.99999)
            assert cfg.train_cfg.max_iters == 800 * 111
    else:  # FixMatch's paper
        assert optimizer.nesterov
        if 'cpu' not in name:
            assert model.ema_momentum == 0.999
            assert cfg.train_cfg.max_iters == 2**20


def test_cpu_comparison_differs_only_in_the_method():
    fixmatch, dmixmatch = (load(
        osp.join(CONFIG_DIR, f'wrn28_2_{m}_cifar10jpeg_250_cpu.py'))
        for m in ('fixmatch', 'dmixmatch'))
    for key in ('train_dataloader', 'val_dataloader', 'train_cfg',
                'data_preprocessor', 'param_scheduler'):
        assert fixmatch[key] == dmixmatch[key], key
    assert fixmatch.model.backbone == dmixmatch.model.backbone
    assert fixmatch.model.ema_momentum == dmixmatch.model.ema_momentum
    assert fixmatch.train_cfg.max_iters == 800


@pytest.mark.parametrize('path', FINE_GRAINED, ids=name_of)
def test_fine_grained_settings(path):
    cfg = load(path)
    name = name_of(path)
    arch, data, pct = re.match(r'r(\d+)_.*_(cub|aircraft|cars)_(\d+)pct',
                               name).groups()
    model, optimizer = cfg.model, cfg.optim_wrapper.optimizer
    dataset = cfg.train_dataloader.dataset
    assert model.head.num_classes == CLASSES[data]
    assert model.backbone.depth == int(arch)
    assert model.backbone.init_cfg.checkpoint.endswith(WEIGHTS[int(arch)])
    width = 512 if arch == '18' else 2048
    assert model.head.in_channels == model.projector.in_channels == width
    assert model.projector.out_channels == 1024
    assert (model.queue_size, model.temperature, model.momentum) == (
        32, 0.07, 0.999)
    assert optimizer == dict(type='SGD', lr=0.001, momentum=0.9,
                             weight_decay=1e-4, nesterov=False)
    assert cfg.optim_wrapper.paramwise_cfg.custom_keys == dict(
        head=dict(lr_mult=10.))
    assert cfg.param_scheduler.by_epoch and cfg.param_scheduler.eta_min == 0
    epochs = EPOCHS[data][(15, 30, 50).index(int(pct))]
    assert cfg.train_cfg.max_epochs == epochs
    assert cfg.train_dataloader.batch_size == 24
    assert cfg.train_dataloader.drop_last
    assert dataset.labeled_ratio == int(pct) / 100
    assert (dataset.mu, dataset.labeled_views) == (1, 2)
    assert dataset.weak_pipeline == dataset.strong_pipeline  # no RandAugment


@pytest.mark.parametrize('path', [p for p in CONFIGS
                                  if re.search('dmixmatch|dmix_tuning', p)],
                         ids=name_of)
def test_dm_variant_shares_the_split_of_its_baseline(path):
    dm = load(path)
    baseline = load(
        path.replace('dmixmatch', 'fixmatch').replace('dmix_tuning',
                                                      'self_tuning'))
    assert dm.train_dataloader.dataset.split_file == \
        baseline.train_dataloader.dataset.split_file


@pytest.mark.parametrize('path', [p for p in CIFAR if 'cpu' not in p],
                         ids=name_of)
def test_cifar_data_is_checked_and_never_downloaded(path, tmp_path,
                                                    monkeypatch):
    """The CIFAR datasets, pointed at an empty folder, fail naming the
    missing file of the python archive, without a download."""
    import mmpretrain.datasets.cifar as cifar
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import DATASETS

    def refuse(*args, **kwargs):
        raise AssertionError('a download was attempted')

    monkeypatch.setattr(cifar, 'download_and_extract_archive', refuse)
    init_default_scope('mmpretrain')
    cfg = load(path)
    for dataset in (cfg.train_dataloader.dataset.dataset,
                    cfg.val_dataloader.dataset,
                    cfg.test_dataloader.dataset):
        assert dataset.type.startswith('CheckedCIFAR')
        dataset.data_root = str(tmp_path / 'empty')
        with pytest.raises(FileNotFoundError,
                           match=re.escape(str(tmp_path / 'empty'))):
            DATASETS.build(dataset)


def test_cifar_views_are_reflect_padded_crops():
    """FixMatch's augment_shift: a 4-pixel reflect-padded crop, in the weak
    and the strong view: all 81 of torchvision's reflect-padded crops come
    up, and nothing else."""
    from test_fast_data_configs import per_sample_crops
    cfg = load(osp.join(CONFIG_DIR, '_base_', 'cifar10_semisup.py'))
    image = torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8,
                          generator=torch.Generator().manual_seed(0))
    for view in ('weak_pipeline', 'strong_pipeline'):
        pipeline = cfg.train_dataloader.dataset[view]
        assert len(set(per_sample_crops(pipeline, image, 'reflect',
                                        1500))) == 81, view


@pytest.mark.parametrize('path', CONFIGS, ids=name_of)
def test_dataloaders_work_with_num_workers_0(path):
    """`--cfg-options train_dataloader.num_workers=0` (and for val) gives
    DataLoader arguments torch accepts (persistent_workers needs workers)."""
    cfg = load(path)
    cfg.merge_from_dict({'train_dataloader.num_workers': 0,
                         'val_dataloader.num_workers': 0})
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg[key]
        names = ('num_workers', 'persistent_workers', 'pin_memory',
                 'drop_last')
        arguments = {k: loader[k] for k in names if k in loader}
        DataLoader(range(4), **arguments)


def test_cpu_comparison_config_trains_with_num_workers_0(tmp_path):
    """The CPU comparison config on a generated tree shaped like the
    CIFAR-10 JPEG copy, two iterations, with the loaders' num_workers set
    to 0 from the command line."""
    root = str(tmp_path / 'cifar10')
    for split in ('train', 'test'):
        write_image_folder(osp.join(root, split), num_classes=10,
                           per_class=3, size=(32, 32))
    cfg = load(
        osp.join(CONFIG_DIR, 'wrn28_2_dmixmatch_cifar10jpeg_250_cpu.py'))
    cfg.merge_from_dict({
        'work_dir': str(tmp_path / 'work'),
        'model.backbone.depth': 10,  # keeps the test fast
        'train_dataloader.num_workers': 0,
        'val_dataloader.num_workers': 0,
        'test_dataloader.num_workers': 0,
        'train_dataloader.batch_size': 2,
        'train_dataloader.dataset.labeled_per_class': 1,
        'train_dataloader.dataset.split_file': str(tmp_path / 'split.json'),
        'train_dataloader.dataset.dataset.data_root': root,
        'val_dataloader.dataset.data_root': root,
        'test_dataloader.dataset.data_root': root,
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
    for key in ('train/loss_x', 'train/loss_mix_ll', 'train/loss_u'):
        assert torch.isfinite(torch.tensor(logged[key].current())), key
    assert 'val/accuracy/top1' in logged

    # tools/plot_curves.py reads the run's scalars.json.
    curves = plot_curves.read_curves(str(tmp_path / 'work'))
    assert [x for x, _ in curves['mask_ratio']] == [1, 2]
    assert [x for x, _ in curves['val/accuracy/top1']] == [2]
    out = tmp_path / 'curves.png'
    plot_curves.main([str(tmp_path / 'work'), '--out', str(out)])
    assert out.stat().st_size > 0
    # docs/semisup.md's curves command runs on it and plots logged keys.
    command = docs_curves_command()
    assert command[:2] == ['python', 'tools/plot_curves.py']
    args = plot_curves.parse_args(command[2:])
    assert args.keys, 'the command names its keys'
    for key in args.keys:
        assert plot_curves.find(curves, key), key


def docs_curves_command():
    """The ``Curves:`` command line of docs/semisup.md, split."""
    with open(osp.join(CONFIG_DIR, '..', '..', 'docs', 'semisup.md')) as f:
        text = f.read()
    return text.split('Curves: `', 1)[1].split('`', 1)[0].split()
