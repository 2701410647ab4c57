"""Check that a prepared dataset is what a config expects, before training.

    python tools/check_dataset.py CONFIG [--data-root DIR] [--decode 3]

Builds the config's train, val and test datasets (with DIR as every
dataset's ``data_root`` when given), which checks the layout the way
training would (a missing or mismatching file is named), then reports per
split the number of samples and classes and how many images each class has,
compares the sizes with the official ones, checks that every split has the
same classes in the same order and no empty class, and loads ``--decode``
samples of each split through the config's pipeline. Exits 0 when the data
is ready, 1 with the list of problems otherwise. docs/datasets.md says how
to prepare each dataset.
"""
import argparse
import copy
import os.path as osp
import sys
from typing import List

import numpy as np
from mmengine.config import Config
from mmengine.registry import init_default_scope

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
import dm_plugin  # noqa: E402,F401  (registers the datasets)
from dm_plugin.engine.config_check import dataset_configs  # noqa: E402

# Sizes of the official splits: {dataset type: {split: samples}}.
OFFICIAL_SIZES = {
    'CheckedCIFAR10': dict(train=50000, test=10000),
    'CheckedCIFAR100': dict(train=50000, test=10000),
    'CIFAR10': dict(train=50000, test=10000),
    'CIFAR100': dict(train=50000, test=10000),
    'TinyImageNetDataset': dict(train=100000, val=10000),
    'ImageNet': dict(train=1281167, val=50000),
    'CUB': dict(train=5994, test=5794),
    'FGVCAircraftDataset': dict(train=3334, val=3333, trainval=6667,
                                test=3333),
    'StanfordCarsDataset': dict(train=8144, test=8041),
}
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='training config')
    parser.add_argument('--data-root', help="every dataset's data_root")
    parser.add_argument('--decode', type=int, default=3,
                        help='samples of each split loaded through the '
                        'pipeline (first, last, and evenly between; 3)')
    args = parser.parse_args(argv)
    if args.decode < 0:
        parser.error('--decode must be >= 0')
    return args


def with_data_root(cfg: Config, data_root: str) -> Config:
    for _, dataset in dataset_configs(cfg):
        if 'data_root' in dataset:
            dataset['data_root'] = data_root
    return cfg


def describe(dataset) -> str:
    """Type, root and split of a dataset config."""
    inner = dataset
    while 'type' in inner and 'dataset' in inner:  # wrappers
        inner = inner['dataset']
    where = ', '.join(f'{key} {inner[key]}' for key in ('data_root', 'split',
                                                        'data_prefix')
                      if inner.get(key))
    return f'{dataset.get("type")} ({where})'


def check_split(name: str, dataset_cfg: dict, decode: int,
                problems: List[str]):
    """Build one split and print what it holds; returns its class names
    (``None`` when it could not be built)."""
    from mmpretrain.registry import DATASETS

    try:
        dataset = DATASETS.build(copy.deepcopy(dataset_cfg))
    except Exception as error:  # the dataset's own message names the file
        problems.append(f'{name}: {type(error).__name__}: {error}')
        print(f'{name}: {describe(dataset_cfg)}: FAILED\n  {error}')
        return None
    classes = list(dataset.metainfo.get('classes') or [])
    labels = np.asarray(dataset.get_gt_labels())
    counts = np.bincount(labels, minlength=len(classes))
    print(f'{name}: {describe(dataset_cfg)}: {len(dataset):,} samples, '
          f'{len(classes)} classes, {counts.min():,}-{counts.max():,} per '
          'class')
    empty = [classes[i] for i in np.flatnonzero(counts == 0)]
    if empty:
        problems.append(f'{name}: {len(empty)} classes without samples: '
                        f'{empty[:10]}')
    official = OFFICIAL_SIZES.get(dataset_cfg.get('type'), {}).get(
        dataset_cfg.get('split'))
    if official is not None and official != len(dataset):
        print(f'  note: the official split has {official:,} samples')
    picks = np.unique(np.linspace(0, len(dataset) - 1, decode).round()
                      ).astype(int) if decode and len(dataset) else []
    for index in picks:
        try:
            item = dataset[int(index)]
        except Exception as error:
            problems.append(f'{name}: sample {index}: '
                            f'{type(error).__name__}: {error}')
            continue
        inputs = item.get('inputs') if isinstance(item, dict) else None
        shape = tuple(getattr(inputs, 'shape', ())) or '?'
        print(f'  sample {index}: loaded, inputs {shape}')
    return classes


def check(cfg: Config, decode: int = 3) -> List[str]:
    """Check every split of ``cfg``; returns the problems found."""
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    problems, classes_of = [], {}
    seen = []
    for loader in LOADERS:
        loader_cfg = cfg.get(loader)
        if not isinstance(loader_cfg, dict) or 'dataset' not in loader_cfg:
            continue
        dataset_cfg = loader_cfg['dataset']
        if dataset_cfg in seen:  # test_dataloader = val_dataloader
            print(f'{loader.split("_")[0]}: same dataset as above')
            continue
        seen.append(dataset_cfg)
        classes = check_split(loader.split('_')[0], dataset_cfg, decode,
                              problems)
        if classes is not None:
            classes_of[loader.split('_')[0]] = classes
    reference = next(iter(classes_of.items()), None)
    for name, classes in classes_of.items():
        if reference and classes != reference[1]:
            problems.append(
                f'{name} and {reference[0]} have different classes or '
                f'class orders ({len(classes)} vs {len(reference[1])}; '
                'labels would not match): make every split hold the same '
                'class folders')
    return problems


def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.data_root:
        cfg = with_data_root(cfg, args.data_root)
    problems = check(cfg, args.decode)
    if problems:
        print(f'\n{len(problems)} problem(s):')
        for problem in problems:
            print(f'  - {problem}')
        return 1
    print(f'\nOK: the data of {args.config} is ready')
    return 0


if __name__ == '__main__':
    sys.exit(main())
