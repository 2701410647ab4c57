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
coarse labels are not in an ImageFolder tree and are not written.
"""
import argparse
import hashlib
import os
import os.path as osp
import pickle
import sys

import numpy as np
from PIL import Image

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(
    __file__)))))
from dm_plugin.datasets import CheckedCIFAR10, CheckedCIFAR100  # noqa: E402
from dm_plugin.datasets.cifar import CONVERTED_CHECKSUMS  # noqa: E402

DATASETS = {'cifar10': CheckedCIFAR10, 'cifar100': CheckedCIFAR100}
SIZE = 32


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='ImageFolder tree -> CIFAR python-pickle layout')
    parser.add_argument('src',
                        help='folder with train/<class>/ and test/<class>/')
    parser.add_argument('dst', help='data_root to write')
    parser.add_argument('--dataset', choices=sorted(DATASETS),
                        default='cifar10')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the shuffle of each split (0)')
    return parser.parse_args(argv)


def read_split(folder: str, classes) -> tuple:
    """``(data (N, 3072) uint8, labels (N,), file names)`` of one split, in
    class order then file name order."""
    if not osp.isdir(folder):
        raise FileNotFoundError(f'{folder} not found: SRC needs train/ and '
                                'test/ class folders')
    found = sorted(name for name in os.listdir(folder)
                   if osp.isdir(osp.join(folder, name)))
    if found != sorted(classes):
        missing = sorted(set(classes) - set(found))
        extra = sorted(set(found) - set(classes))
        raise ValueError(f'{folder}: class folders differ from the '
                         f"dataset's {len(classes)} classes (missing: "
                         f'{missing or "none"}; unexpected: '
                         f'{extra or "none"})')
    rows, labels, names = [], [], []
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
                pixels = np.asarray(image.convert('RGB'), dtype=np.uint8)
            rows.append(pixels.transpose(2, 0, 1).reshape(-1))
            labels.append(label)
            names.append(file)
    return np.stack(rows), np.asarray(labels), names


def write_pickle(path: str, content: dict) -> str:
    """Write ``content`` and return its md5."""
    data = pickle.dumps(content, protocol=4)
    with open(path, 'wb') as f:
        f.write(data)
    return hashlib.md5(data).hexdigest()


def convert(src: str, dst: str, dataset: str = 'cifar10',
            seed: int = 0) -> str:
    """Write the layout of ``dataset`` under ``dst``; returns its folder."""
    dataset_cls = DATASETS[dataset]
    classes = list(dataset_cls.METAINFO['classes'])
    folder = osp.join(dst, dataset_cls.base_folder)
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    label_key = dataset_cls.LABEL_KEY
    checksums = {}
    for split, files in (('train', dataset_cls.train_list),
                         ('test', dataset_cls.test_list)):
        data, labels, names = read_split(osp.join(src, split), classes)
        order = rng.permutation(len(data))
        for index, (name, _) in enumerate(files):
            part = np.array_split(order, len(files))[index]
            checksums[name] = write_pickle(osp.join(folder, name), {
                'batch_label': f'{split} batch {index + 1} of {len(files)}',
                label_key: labels[part].tolist(),
                'data': data[part],
                'filenames': [names[i] for i in part],
            })
    meta = dataset_cls.meta
    checksums[meta['filename']] = write_pickle(
        osp.join(folder, meta['filename']), {meta['key']: classes})
    with open(osp.join(folder, CONVERTED_CHECKSUMS), 'w') as f:
        f.writelines(f'{md5}  {name}\n' for name, md5 in checksums.items())
    return folder


def main(argv=None):
    args = parse_args(argv)
    folder = convert(args.src, args.dst, args.dataset, args.seed)
    print(f'wrote {folder}; train with data_root={args.dst}')


if __name__ == '__main__':
    main()
