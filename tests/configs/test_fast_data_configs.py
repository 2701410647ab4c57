"""The fast-path data bases are their stock bases with the per-sample work
moved: same data, normalisation, augmentation arguments and evaluation;
swapped into a dataset's experiment config they build the cached dataset
and train one step."""
import copy
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmpretrain.registry import MODELS

CONFIG_DIR = Path(__file__).resolve().parents[2] / 'configs'
BASES = CONFIG_DIR / '_base_' / 'datasets'
# stock base, fast base, an experiment config using the stock base, size
CASES = [
    ('cifar10_bs100.py', 'cifar10_fast_bs100.py',
     'cifar10/r18_cutmix_dm_ep800.py', 32),
    ('cifar100_bs100.py', 'cifar100_fast_bs100.py',
     'cifar100/r18_mixup_dm_ep800.py', 32),
    ('tiny_imagenet_bs100.py', 'tiny_imagenet_fast_bs100.py',
     'tiny_imagenet/r18_mixup_dm_ep400.py', 64),
]
LAYOUT_OF = dict(CIFAR10='cifar10', CIFAR100='cifar100',
                 TinyImageNetDataset='tiny-imagenet')
PER_SAMPLE_ONLY = ('LoadImageFromFile', 'PackInputs')


def augmentations(pipeline):
    """The random transforms of a per-sample pipeline, without
    padding_mode (a no-op for mmpretrain's `padding`, see
    BatchRandomCrop)."""
    kept = []
    for transform in pipeline:
        if transform['type'] not in PER_SAMPLE_ONLY:
            transform = dict(transform)
            transform.pop('padding_mode', None)
            kept.append(transform)
    return kept


@pytest.mark.parametrize('stock, fast, _, size', CASES)
def test_fast_base_keeps_the_stock_recipe(stock, fast, _, size):
    stock, fast = (Config.fromfile(str(BASES / name)) for name in (stock,
                                                                   fast))
    processor = fast.data_preprocessor
    assert processor.type == 'BatchTransformPreprocessor'
    for key in ('mean', 'std', 'num_classes'):
        assert processor[key] == stock.data_preprocessor[key], key
    assert processor.transforms == augmentations(
        stock.train_dataloader.dataset.pipeline)
    assert augmentations(stock.test_dataloader.dataset.pipeline) == []
    for split in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        stock_loader, fast_loader = stock[split], fast[split]
        assert fast_loader.batch_size == stock_loader.batch_size
        assert fast_loader.collate_fn == dict(type='cached_image_collate')
        assert fast_loader.dataset.type == 'CachedImageDataset'
        assert fast_loader.dataset.layout == LAYOUT_OF[
            stock_loader.dataset.type]
        assert fast_loader.dataset.data_root == stock_loader.dataset.data_root
        assert fast_loader.dataset.split == stock_loader.dataset.split
        assert fast_loader.sampler == stock_loader.sampler
    assert fast.val_evaluator == stock.val_evaluator


def swapped(experiment: str, stock: str, fast: str, tmp_path) -> Config:
    """The experiment config with its data base swapped for the fast one."""
    text = (CONFIG_DIR / experiment).read_text()
    assert f'_base_/datasets/{stock}' in text
    text = text.replace(f'_base_/datasets/{stock}', f'_base_/datasets/{fast}')
    text = text.replace("'../_base_/", f"'{CONFIG_DIR}/_base_/")
    path = tmp_path / 'fast.py'
    path.write_text(text)
    return Config.fromfile(str(path))


@pytest.mark.parametrize('stock, fast, experiment, size', CASES)
def test_experiment_trains_one_step_on_the_fast_base(stock, fast, experiment,
                                                     size, tmp_path):
    cfg = swapped(experiment, stock, fast, tmp_path)
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)  # Runner
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    batch = dict(
        inputs=torch.randint(0, 256, (2, 3, size, size), dtype=torch.uint8),
        gt_label=torch.tensor([0, 1]))
    log_vars = model.train_step(batch, optim_wrapper)
    assert torch.isfinite(log_vars['loss'])
    model.eval()
    scores = torch.stack([p.pred_score for p in model.val_step(batch)])
    assert scores.shape == (2, model.head.num_classes)
