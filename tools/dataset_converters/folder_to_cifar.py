"""Write an ImageFolder copy of CIFAR-10/100 in the python-pickle layout of
the official archives, which dm-plugin's CIFAR configs read.

    python tools/dataset_converters/folder_to_cifar.py SRC DST \
        [--dataset cifar10|cifar100] [--seed 0]

SRC holds ``train/<class>/*`` and ``test/<class>/*`` (32x32 images, any
format PIL reads; the class folders must be the dataset's classes). DST gets
the folder the official archive extracts to, so ``data_root=DST`` works:

    cifar10:  DST/cifar-10-batches-py/data_batch_1..5, test_batch, batches.meta
    cifar100: DST/cifar-100-python/train, test, meta

Rows are (3072,) uint8 in the archive's order (the red plane, then green,
then blue, each row-major), labels index the classes in the official order,
and each split is shuffled with ``--seed`` (the archives are shuffled too).
``MD5SUMS`` beside them lists the files' checksums: ``CheckedCIFAR10`` /
``CheckedCIFAR100`` accept those as well as the official ones (mmpretrain's
``CIFAR10`` / ``CIFAR100`` accept only the official ones). CIFAR-100's
coarse labels are not in an ImageFolder tree and are not written. The
writing is ``CheckedCIFAR10.write_splits`` (tools/benchmark_throughput.py
writes its pickles with it too).
"""
import argparse
import os
import os.path as osp
import sys

import numpy as np
from PIL import Image

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(
    __file__)))))
from dm_plugin.datasets.cifar import (CIFAR_VARIANTS,  # noqa: E402
                                      class_difference)

SIZE = 32


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='ImageFolder tree -> CIFAR python-pickle layout')
    parser.add_argument('src',
                        help='folder with train/<class>/ and test/<class>/')
    parser.add_argument('dst', help='data_root to write')
    parser.add_argument('--dataset', choices=sorted(CIFAR_VARIANTS),
                        default='cifar10')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the shuffle of each split (0)')
    return parser.parse_args(argv)


def read_split(folder: str, classes) -> tuple:
    """``(images (N, 32, 32, 3) uint8, labels (N,), file names)`` of one
    split, in class order then file name order."""
    if not osp.isdir(folder):
        raise FileNotFoundError(f'{folder} not found: SRC needs train/ and '
                                'test/ class folders')
    found = sorted(name for name in os.listdir(folder)
                   if osp.isdir(osp.join(folder, name)))
    difference = class_difference(found, classes)
    if difference:
        raise ValueError(f'{folder}: class folders differ from the '
                         f"dataset's {len(classes)} classes ({difference})")
    images, labels, names = [], [], []
    for label, name in enumerate(classes):
        files = sorted(os.listdir(osp.join(folder, name)))
        if not files:
            raise ValueError(f'{osp.join(folder, name)} holds no images')
        for file in files:
            path = osp.join(folder, name, file)
            with Image.open(path) as image:
                if image.size != (SIZE, SIZE):
                    raise ValueError(f'{path} is {image.size[0]}x'
                                     f'{image.size[1]}, CIFAR images are '
                                     f'{SIZE}x{SIZE}')
                images.append(np.asarray(image.convert('RGB'),
                                         dtype=np.uint8))
            labels.append(label)
            names.append(file)
    return np.stack(images), np.asarray(labels), names


def convert(src: str, dst: str, dataset: str = 'cifar10',
            seed: int = 0) -> str:
    """Write the layout of ``dataset`` under ``dst``; returns its folder."""
    dataset_cls = CIFAR_VARIANTS[dataset]
    classes = list(dataset_cls.METAINFO['classes'])
    splits = {split: read_split(osp.join(src, split), classes)
              for split in ('train', 'test')}
    return dataset_cls.write_splits(dst, splits, seed)


def main(argv=None):
    args = parse_args(argv)
    folder = convert(args.src, args.dst, args.dataset, args.seed)
    print(f'wrote {folder}; train with data_root={args.dst}')


if __name__ == '__main__':
    main()
