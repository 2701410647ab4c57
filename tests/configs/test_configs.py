"""Every shipped experiment config loads, builds its own model and trains one
iteration on generated data that went through the config's own pipelines.

To fit a 2-CPU budget, batches hold 2 images, downscaled to 16x16 after the
config's pipelines (which run at full size and are checked to give the
paper's resolution); the ResNets are fully convolutional and DeiT's
``img_size`` is set to 16. The weight initialisation the Runner runs
(``init_weights``) and evaluation are checked once per model base.
"""
import copy
import functools
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.optim import build_optim_wrapper
from mmengine.registry import PARAM_SCHEDULERS
from mmpretrain.registry import DATASETS, MODELS, TRANSFORMS
from PIL import Image

CONFIG_DIR = Path(__file__).resolve().parents[2] / 'configs'
# The paper's input resolution and the class count per dataset folder.
RESOLUTION = dict(
    cifar10=32,
    cifar100=32,
    tiny_imagenet=64,
    imagenet=224,
    cub200=224,
    aircraft=224,
    stanford_cars=224)
NUM_CLASSES = dict(
    cifar10=10,
    cifar100=100,
    tiny_imagenet=200,
    imagenet=1000,
    cub200=200,
    aircraft=100,
    stanford_cars=196)
# The experiment configs of the dataset folders (quickstart/, semisup/ and
# protocol/ are tested by their owners).
CONFIGS = sorted(f'{folder}/{path.name}' for folder in RESOLUTION
                 for path in (CONFIG_DIR / folder).glob('*.py'))
TRAIN_SIZE = 16
BATCH = 2
STATIC = {
    'mixup', 'cutmix', 'resizemix', 'fmix', 'gridmix', 'saliencymix',
    'smoothmix', 'manifoldmix'
}
DYNAMIC = {'puzzlemix', 'automix', 'attentivemix'}
# SAMix where OpenMixup has SAMix configs (all but CIFAR-10 and Cars).
SAMIX_FOLDERS = {'cifar100', 'tiny_imagenet', 'imagenet', 'cub200', 'aircraft'}


@functools.lru_cache(maxsize=None)
def load(name: str) -> Config:
    """The config (shared between tests: copy before changing it)."""
    return Config.fromfile(str(CONFIG_DIR / name))


def run_pipeline(pipeline: list, size: int, folder: Path) -> list:
    """``BATCH`` generated samples of classes 0, 1, ... packed by
    ``pipeline``; images are written to ``folder`` when it loads files. Raw
    images are ``size`` square, or 200x150 for 224-pixel pipelines (which
    resize them)."""
    width, height = (size, size) if size <= 64 else (200, 150)
    transform = Compose([TRANSFORMS.build(t) for t in copy.deepcopy(pipeline)])
    loads_files = pipeline[0]['type'] == 'LoadImageFromFile'
    packed = []
    for k in range(BATCH):
        rng = np.random.default_rng(k)
        pixels = (rng.integers(0, 60,
                               (height, width, 3)) + 60 * k).astype(np.uint8)
        if loads_files:
            path = folder / f'img_{k}.png'
            Image.fromarray(pixels).save(path)
            sample = dict(img_path=str(path), gt_label=k)
        else:
            sample = dict(img=pixels, gt_label=k)
        packed.append(transform(sample))
    return packed


@pytest.fixture(scope='session')
def attention_weights(tmp_path_factory):
    """``get(net_cfg)``: a file of random weights of an attention network
    (AttentiveMix+), written once per network: nothing is downloaded."""
    files = {}

    def get(net_cfg: dict) -> str:
        key = repr(sorted(net_cfg.items()))
        if key not in files:
            path = tmp_path_factory.mktemp('attention') / 'weights.pth'
            torch.save(MODELS.build(copy.deepcopy(net_cfg)).state_dict(), path)
            files[key] = str(path)
        return files[key]

    return get


def build_model(cfg: Config, img_size: int = TRAIN_SIZE,
                attention_weights=None):
    model_cfg = copy.deepcopy(cfg.model)
    # As mmengine's Runner does with a top-level data_preprocessor.
    model_cfg.setdefault('data_preprocessor', cfg.get('data_preprocessor'))
    if 'img_size' in model_cfg.backbone:
        model_cfg.backbone.img_size = img_size
    mixer = model_cfg.get('mixer')
    if isinstance(mixer, dict) and mixer.get('attention_checkpoint'):
        # Random weights for the attention network, which sees inputs
        # resized to 32 (not 224) like the small training images here.
        mixer.attention_checkpoint = attention_weights(mixer.attention_net)
        mixer.attention_size = 32
    return MODELS.build(model_cfg)


def small_batch(packed: list) -> dict:
    data = pseudo_collate(packed)
    data['inputs'] = [
        F.interpolate(
            x[None].float(), size=TRAIN_SIZE, mode='bilinear',
            antialias=True)[0] for x in data['inputs']
    ]
    return data


def build_schedulers(cfg: Config, optim_wrapper) -> list:
    """The param schedulers, as mmengine's Runner builds them."""
    schedulers = cfg.param_scheduler
    if isinstance(schedulers, dict):
        schedulers = [schedulers]
    built = []
    for scheduler in schedulers:
        scheduler = copy.deepcopy(scheduler)
        scheduler.setdefault('end', cfg.train_cfg.max_epochs)
        built.append(
            PARAM_SCHEDULERS.build(
                scheduler,
                default_args=dict(optimizer=optim_wrapper, epoch_length=10)))
    return built


@pytest.mark.parametrize('name', CONFIGS)
def test_config_trains_one_iteration(name, tmp_path, attention_weights):
    folder = name.split('/')[0]
    resolution = RESOLUTION[folder]
    cfg = load(name)
    torch.manual_seed(0)
    np.random.seed(0)

    for loader in (cfg.train_dataloader, cfg.val_dataloader,
                   cfg.test_dataloader):
        dataset = loader.dataset
        assert DATASETS.get(dataset.type) is not None, dataset.type
        assert dataset.data_root.startswith('data/'), dataset.data_root
        assert dataset.get('download', False) is False
    train = run_pipeline(cfg.train_dataloader.dataset.pipeline, resolution,
                         tmp_path)
    test = run_pipeline(cfg.test_dataloader.dataset.pipeline, resolution,
                        tmp_path)
    for sample in train + test:
        assert tuple(sample['inputs'].shape) == (3, resolution, resolution)

    model = build_model(cfg, attention_weights=attention_weights)
    assert model.head.num_classes == NUM_CLASSES[folder]
    assert len(model.mixers) >= 1
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    assert build_schedulers(cfg, optim_wrapper)

    head_weight = model.head.fc.weight.detach().clone()
    model.train()
    log_vars = model.train_step(small_batch(train), optim_wrapper)
    values = torch.stack(
        [torch.as_tensor(v).detach() for v in log_vars.values()])
    assert torch.isfinite(values).all(), log_vars
    if cfg.model.head.get('type', 'DMClsHead') == 'DMClsHead':
        assert ('loss_bce' if 'bce' in name else 'loss_dr') in log_vars
    assert not torch.equal(head_weight, model.head.fc.weight)


def model_base(name: str) -> str:
    text = (CONFIG_DIR / name).read_text()
    return re.search(r'_base_/models/(\w+)\.py', text).group(1)


# One config per model base (the first that uses it).
BASE_EXAMPLES = sorted({model_base(n): n for n in reversed(CONFIGS)}.items())


@pytest.mark.parametrize('base, name', BASE_EXAMPLES)
def test_model_base_initialises_and_evaluates(base, name, tmp_path,
                                              attention_weights):
    """The Runner's init_weights (pretrained backbones: see the next test)
    and evaluation: a probability vector per image."""
    cfg = load(name)
    model = build_model(cfg, attention_weights=attention_weights)
    if (cfg.model.backbone.get('init_cfg') or {}).get('type') == 'Pretrained':
        model.backbone.init_cfg = None
    model.init_weights()
    folder = name.split('/')[0]
    data = small_batch(
        run_pipeline(cfg.test_dataloader.dataset.pipeline, RESOLUTION[folder],
                     tmp_path))
    model.eval()
    predictions = model.val_step(data)
    scores = torch.stack([p.pred_score for p in predictions])
    assert scores.shape == (BATCH, NUM_CLASSES[folder])
    torch.testing.assert_close(scores.sum(1), torch.ones(BATCH))


@pytest.mark.parametrize('name, torchvision_arch', [
    ('cub200/r18_mixup_dm_ep200.py', 'resnet18'),
    ('aircraft/rx50_mixup_dm_ep200.py', 'resnext50_32x4d'),
])
def test_pretrained_backbone_loads_torchvision_keys(name, torchvision_arch,
                                                    tmp_path):
    """The fine-grained configs start from torchvision's ImageNet weights;
    a torchvision state dict (random here, nothing is downloaded) loads into
    the backbone key for key."""
    import torchvision

    cfg = copy.deepcopy(load(name))
    assert cfg.model.backbone.init_cfg == dict(
        type='Pretrained', checkpoint=f'torchvision://{torchvision_arch}')
    state = getattr(torchvision.models, torchvision_arch)().state_dict()
    checkpoint = tmp_path / 'weights.pth'
    torch.save(state, checkpoint)
    cfg.model.backbone.init_cfg.checkpoint = str(checkpoint)
    model = build_model(cfg)
    model.init_weights()
    loaded = model.backbone.state_dict()
    assert set(state) - set(loaded) == {'fc.weight', 'fc.bias'}
    for key in ('conv1.weight', 'layer4.1.conv2.weight',
                'layer3.0.downsample.0.weight'):
        torch.testing.assert_close(loaded[key], state[key])


def test_every_dataset_has_every_static_mixer_with_mce_and_dm():
    """Per dataset: one backbone runs all static mixers, every mixer comes
    as an MCE / DM pair, and the dynamic baselines are there where the
    paper compares them (not Stanford Cars)."""
    grid = {}  # folder -> {(model, mixer): {losses}}
    for name in CONFIGS:
        folder, file = name.split('/')
        if file.startswith('deit'):
            continue
        model, mixer, loss = file.split('_')[:3]
        grid.setdefault(folder, {}).setdefault((model, mixer), set()).add(loss)
    assert set(grid) == set(RESOLUTION)
    for folder, pairs in grid.items():
        assert all(losses == {'mce', 'dm'} for losses in pairs.values())
        models = {model for model, _ in pairs}
        assert any(
            all((model, m) in pairs for m in STATIC) for model in models)
        mixers = {mixer for _, mixer in pairs}
        expected = STATIC if folder == 'stanford_cars' else STATIC | DYNAMIC
        if folder in SAMIX_FOLDERS:
            expected = expected | {'samix'}
        assert mixers == expected, folder


@pytest.mark.parametrize('dm_name', [n for n in CONFIGS if '_dm_' in n])
def test_dm_config_differs_from_its_baseline_only_in_the_head(dm_name):
    """A fair comparison: same data, model, mixer and schedule; only the
    mixer's alpha may differ, where the DM run of OpenMixup used another
    (tests/configs/test_dm_settings.py)."""
    base_name = dm_name.replace('_dm_bce_', '_bce_').replace('_dm_', '_mce_')
    dm, baseline = load(dm_name).to_dict(), load(base_name).to_dict()
    dm_head, base_head = dm['model'].pop('head'), baseline['model'].pop('head')
    for mixer in (dm['model']['mixer'], baseline['model']['mixer']):
        if isinstance(mixer, dict):
            mixer.pop('alpha')
    assert dm == baseline
    assert dm_head.get('type', 'DMClsHead') == 'DMClsHead'
    assert dm_head['loss']['type'] == 'DecoupledMixupLoss'
    assert base_head['type'] == 'LinearClsHead'
    assert dm_head['num_classes'] == base_head['num_classes']


@pytest.mark.parametrize('file, mixer, alpha', [('mixup', 'Mixup', 0.2),
                                                ('cutmix', 'CutMix', 0.2)])
def test_cifar100_resnet18_hyper_parameters(file, mixer, alpha):
    """The authors' recipe: SGD lr 0.1, wd 1e-4, cosine, 800 epochs, batch
    100; Mixup and CutMix alpha 0.2 with DM (OpenMixup's decouple
    configs)."""
    cfg = load(f'cifar100/r18_{file}_dm_ep800.py')
    assert cfg.optim_wrapper.optimizer == dict(
        type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4)
    assert cfg.param_scheduler.type == 'CosineAnnealingLR'
    assert cfg.train_cfg.max_epochs == 800
    assert cfg.train_dataloader.batch_size == 100
    assert cfg.model.mixer == dict(type=mixer, alpha=alpha)
    assert cfg.model.head.loss.type == 'DecoupledMixupLoss'
    assert cfg.model.backbone.type == 'ResNet_CIFAR'


DATASET_BASES = sorted(
    path.name for path in (CONFIG_DIR / '_base_' / 'datasets').glob('*.py')
    if 'type' in Config.fromfile(str(path)).get('train_dataloader', {}).get(
        'dataset', {}))


@pytest.mark.parametrize('name', DATASET_BASES)
def test_dataset_without_data_names_the_missing_file(name, tmp_path,
                                                     monkeypatch):
    """Every dataset of the configs, pointed at an empty folder, fails when
    it is built, naming a path in that folder; none tries to download."""
    import mmpretrain.datasets.cifar as cifar

    def refuse(*args, **kwargs):
        raise AssertionError('a download was attempted')

    monkeypatch.setattr(cifar, 'download_and_extract_archive', refuse)
    from mmengine.registry import init_default_scope
    init_default_scope('mmpretrain')
    for loader in ('train_dataloader', 'val_dataloader'):
        dataset = copy.deepcopy(load(f'_base_/datasets/{name}')[loader]
                                .dataset)
        dataset.data_root = str(tmp_path / 'empty')
        with pytest.raises(FileNotFoundError, match=re.escape(
                str(tmp_path / 'empty'))):
            DATASETS.build(dataset)
