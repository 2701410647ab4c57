"""The fast-path data bases are their stock bases with the per-sample work
moved: same data, normalisation, augmentation arguments and evaluation;
swapped into a dataset's experiment config they build the cached dataset
and train one step."""
import copy
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision.transforms.functional as TF
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmpretrain.registry import MODELS, TRANSFORMS

from dm_plugin.models.data_preprocessors import build_batch_transform

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
LAYOUT_OF = dict(CheckedCIFAR10='cifar10', CheckedCIFAR100='cifar100',
                 TinyImageNetDataset='tiny-imagenet')
PER_SAMPLE_ONLY = ('LoadImageFromFile', 'PackInputs')


def augmentations(pipeline):
    """The random transforms of a per-sample pipeline."""
    return [transform for transform in pipeline
            if transform['type'] not in PER_SAMPLE_ONLY]


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


def reference_crops(image: torch.Tensor, mode: str) -> dict:
    """``{crop bytes: (y, x)}``: the 81 crops of torchvision's
    ``RandomCrop(32, padding=4, padding_mode=mode)`` of a (3, 32, 32)
    image, as OpenMixup's CIFAR pipelines draw them."""
    padded = TF.pad(image, 4, padding_mode=mode)
    return {padded[:, y:y + 32, x:x + 32].numpy().tobytes(): (y, x)
            for y in range(9) for x in range(9)}


def per_sample_crops(pipeline, image: torch.Tensor, mode: str,
                     draws: int) -> list:
    """The (y, x) of each crop the pipeline's RandomCrop steps make of
    ``image`` (per sample, mmpretrain's transforms) among the reference
    crops of ``mode``; a crop that is none of them fails."""
    crops = [TRANSFORMS.build(t) for t in pipeline
             if t['type'] == 'RandomCrop']
    reference = reference_crops(image, mode)
    np.random.seed(0)
    found = []
    for _ in range(draws):
        result = dict(img=image.permute(1, 2, 0).numpy().copy())
        for crop in crops:
            result = crop(result)
        found.append(reference[result['img'].transpose(2, 0, 1).tobytes()])
    return found


# stock base, fast base, OpenMixup's padding (configs/classification/_base_/
# datasets/cifar{10,100}/sz32_bs100.py: torchvision's RandomCrop, padding 4)
OPENMIXUP_CROPS = [('cifar10_bs100.py', 'cifar10_fast_bs100.py', 'constant'),
                   ('cifar100_bs100.py', 'cifar100_fast_bs100.py', 'reflect')]


@pytest.mark.parametrize('stock, fast, mode', OPENMIXUP_CROPS)
def test_cifar_crops_are_openmixups(stock, fast, mode):
    """Every crop the stock pipeline (per sample) and the fast base (on the
    batch) make is one of OpenMixup's 81 (CIFAR-10 zero-padded, CIFAR-100
    reflect-padded), and each of the 81 comes up."""
    image = torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8,
                          generator=torch.Generator().manual_seed(0))
    reference = reference_crops(image, mode)
    draws = 1500  # P(one of 81 never drawn) < 1e-6
    pipeline = Config.fromfile(str(BASES / stock)).train_dataloader.dataset \
        .pipeline
    assert len(set(per_sample_crops(pipeline, image, mode, draws))) == 81
    generator = torch.Generator().manual_seed(0)
    batch = image.expand(draws, -1, -1, -1)
    for transform in Config.fromfile(str(BASES / fast)).data_preprocessor \
            .transforms:
        if transform['type'] == 'RandomCrop':
            batch = build_batch_transform(transform)(
                batch, lambda k: torch.rand((draws, k), generator=generator))
    found = [reference[crop.numpy().tobytes()] for crop in batch]
    assert len(set(found)) == 81
