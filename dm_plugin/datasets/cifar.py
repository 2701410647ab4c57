"""CIFAR-10/100 python archives: read with every file checked and without
running code from the pickles, written from images (the converter, the
throughput benchmark), and never downloaded.

The archives (Krizhevsky, "Learning Multiple Layers of Features from Tiny
Images", 2009) hold one pickled dict per batch file, the images as an
(N, 3072) uint8 array: the red plane, then green, then blue, each row-major.
"""
import hashlib
import os
import os.path as osp
import pickle
from typing import Dict, List, Sequence, Tuple

import numpy as np
from mmengine import fileio
from mmpretrain.datasets import CIFAR10, CIFAR100
from mmpretrain.registry import DATASETS

from dm_plugin.safe_pickle import load_pickle
from dm_plugin.validation import check_choice
from .layout import require_path

# Checksums of a copy written by write_splits (the converter, md5sum's
# format: "<md5>  <file name>" per line), accepted besides the official
# archive's.
CONVERTED_CHECKSUMS = 'MD5SUMS'
IMAGE_SHAPE = (32, 32, 3)


def read_checksums(path: str) -> Dict[str, str]:
    """``{file name: md5}`` from an md5sum-format file."""
    checksums = {}
    for line in fileio.get_text(path).splitlines():
        md5, _, name = line.strip().partition('  ')
        if md5 and name:
            checksums[name] = md5
    return checksums


def class_difference(found: Sequence[str], expected: Sequence[str]) -> str:
    """``'missing: [...]; unexpected: [...]'``, or ``''`` for the same
    names."""
    missing = [name for name in expected if name not in found]
    unexpected = [name for name in found if name not in expected]
    if not missing and not unexpected:
        return ''
    return f'missing: {missing or "none"}; unexpected: {unexpected or "none"}'


class CheckedCIFARMixin:
    """What :class:`CheckedCIFAR10` and :class:`CheckedCIFAR100` add to
    mmpretrain's classes: each file of the split is required by name, its
    md5 must be the official archive's (or the one a converted copy lists in
    ``MD5SUMS``), it is unpickled by :mod:`dm_plugin.safe_pickle` (nothing
    in it runs) and checked for shape, labels and class names, and nothing
    is ever downloaded. The class methods read and write the layout for
    other users (:class:`CachedImageDataset`, the converter)."""

    NAME = 'CIFAR'
    LABEL_KEY = 'labels'

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 download: bool = False,
                 **kwargs):
        check_choice('split', split, ('train', 'test'))
        if download:
            raise ValueError(
                f'{type(self).__name__} never downloads (download=True): '
                'get the python archive as docs/datasets.md says')
        super().__init__(data_root=data_root, split=split, download=False,
                         **kwargs)

    def load_data_list(self) -> List[dict]:
        images, labels, _ = self.read_split(self.data_prefix['root'],
                                            self.split)
        return [dict(img=img, gt_label=int(label))
                for img, label in zip(images, labels)]

    def extra_repr(self) -> List[str]:
        return [f'Root of dataset: \t{self.data_prefix["root"]}',
                f'Split: \t{self.split}']

    # -- the layout, for any user ----------------------------------------
    @classmethod
    def split_files(cls, data_root: str, split: str) -> List[str]:
        """Paths of the batch files of ``split``, then the meta file; raises
        ``FileNotFoundError`` naming the first missing one (the meta file
        first)."""
        check_choice('split', split, ('train', 'test'))
        folder = fileio.join_path(data_root, cls.base_folder)
        batches = cls.train_list if split == 'train' else cls.test_list
        paths = [fileio.join_path(folder, name) for name in
                 [name for name, _ in batches] + [cls.meta['filename']]]
        for path in paths[-1:] + paths[:-1]:
            require_path(
                path, cls.NAME,
                f'{cls.filename} extracted under data_root, or a copy '
                'written by tools/dataset_converters/folder_to_cifar.py')
        return paths

    @classmethod
    def accepted_md5(cls, data_root: str) -> Dict[str, List[str]]:
        """``{file name: accepted md5s}``: the official one, and the one in
        ``MD5SUMS`` when the folder has that file."""
        official = {name: md5 for name, md5 in cls.train_list + cls.test_list}
        official[cls.meta['filename']] = cls.meta['md5']
        accepted = {name: [md5] for name, md5 in official.items()}
        listed = fileio.join_path(data_root, cls.base_folder,
                                  CONVERTED_CHECKSUMS)
        if fileio.exists(listed):
            for name, md5 in read_checksums(listed).items():
                accepted.setdefault(name, []).append(md5)
        return accepted

    @classmethod
    def read_file(cls, path: str, accepted: List[str]) -> dict:
        """The dict pickled in ``path``, whose md5 must be one of
        ``accepted``."""
        content = fileio.get(path)
        md5 = hashlib.md5(content).hexdigest()
        if md5 not in accepted:
            raise ValueError(
                f'{cls.NAME}: {path} has md5 {md5}, expected '
                f'{" or ".join(accepted)} ({cls.filename}, or the '
                f'{CONVERTED_CHECKSUMS} of a converted copy): the file is '
                'damaged or from another dataset')
        batch = load_pickle(content, path)
        if not isinstance(batch, dict):
            raise ValueError(f'{cls.NAME}: {path} holds a '
                             f'{type(batch).__name__}, not a CIFAR dict')
        return batch

    @classmethod
    def read_split(cls, data_root: str,
                   split: str) -> Tuple[np.ndarray, np.ndarray, Tuple[str]]:
        """Images (N, 32, 32, 3) uint8 RGB, labels (N,) int64 and the class
        names of ``split``, every file checked (see the class docstring).

        Raises:
            FileNotFoundError: naming the missing file.
            ValueError: naming a file whose md5, content or class names
                differ; ``UnsafePickleError`` (a ``ValueError``) for one
                that asks to run code.
        """
        *batches, meta_path = cls.split_files(data_root, split)
        accepted = cls.accepted_md5(data_root)
        classes = cls.read_classes(meta_path, accepted[cls.meta['filename']])
        images, labels = [], []
        for path in batches:
            batch = cls.read_file(path, accepted[osp.basename(path)])
            data = batch.get('data')
            label = np.asarray(batch.get(cls.LABEL_KEY, []))
            if not isinstance(data, np.ndarray) or data.dtype != np.uint8 \
                    or data.ndim != 2 or data.shape[1] != np.prod(IMAGE_SHAPE):
                raise ValueError(f'{cls.NAME}: {path}: "data" must be a '
                                 '(N, 3072) uint8 array, got '
                                 f'{getattr(data, "shape", type(data))}')
            if label.shape != (len(data), ) or not np.issubdtype(
                    label.dtype, np.integer) or label.min(
                        initial=0) < 0 or label.max(
                            initial=0) >= len(classes):
                raise ValueError(f'{cls.NAME}: {path}: {cls.LABEL_KEY!r} '
                                 f'must be {len(data)} class indices in '
                                 f'[0, {len(classes)})')
            images.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
            labels.append(label.astype(np.int64))
        return (np.ascontiguousarray(np.concatenate(images)),
                np.concatenate(labels), classes)

    @classmethod
    def read_classes(cls, path: str, accepted: List[str]) -> Tuple[str]:
        """The class names of the meta file; they must be this dataset's,
        in order (labels index them)."""
        names = cls.read_file(path, accepted).get(cls.meta['key'])
        if not isinstance(names, list) or not all(
                isinstance(name, (str, bytes)) for name in names):
            raise ValueError(f'{cls.NAME}: {path}: {cls.meta["key"]!r} '
                             'must be a list of class names')
        names = [name.decode('latin1') if isinstance(name, bytes) else name
                 for name in names]
        expected = list(cls.METAINFO['classes'])
        if names != expected:
            raise ValueError(
                f'{cls.NAME}: {path} lists classes {names[:5]}... ('
                f'{len(names)}), expected the {len(expected)} classes of '
                f'{cls.NAME} in order ('
                f'{class_difference(names, expected) or "another order"})')
        return tuple(names)

    @classmethod
    def write_splits(cls,
                     data_root: str,
                     splits: Dict[str, tuple],
                     seed: int = 0) -> str:
        """Write ``splits`` under ``data_root`` in the archive's layout, with
        its meta file and an ``MD5SUMS`` that :meth:`read_split` accepts;
        returns the folder (``data_root/<base_folder>``).

        Args:
            data_root (str): Where the archive's folder is written.
            splits (dict): ``{'train' | 'test': (images, labels, names)}``:
                images (N, 32, 32, 3) uint8 RGB, labels (N,) indexing the
                dataset's classes in their official order, file names (or
                None). Each split is shuffled (the archives are too) and cut
                into the archive's batch files.
            seed (int): Seed of the shuffles.
        """
        folder = osp.join(data_root, cls.base_folder)
        os.makedirs(folder, exist_ok=True)
        listed = osp.join(folder, CONVERTED_CHECKSUMS)
        checksums = read_checksums(listed) if osp.isfile(listed) else {}
        rng = np.random.default_rng(seed)
        num_classes = len(cls.METAINFO['classes'])
        for split, (images, labels, names) in splits.items():
            check_choice('split', split, ('train', 'test'))
            images, labels = np.asarray(images), np.asarray(labels)
            if images.dtype != np.uint8 or images.shape[1:] != IMAGE_SHAPE \
                    or labels.shape != images.shape[:1] or (names is not None
                                                           and len(names) !=
                                                           len(images)):
                raise ValueError(
                    f'{cls.NAME} {split}: images must be (N, 32, 32, 3) '
                    'uint8 with N labels (and N names), got '
                    f'{images.shape} {images.dtype}, {labels.shape} labels')
            if len(labels) and not (0 <= labels.min() <= labels.max() <
                                    num_classes):
                raise ValueError(f'{cls.NAME} {split}: labels must index '
                                 f'its {num_classes} classes')
            rows = images.transpose(0, 3, 1, 2).reshape(len(images), -1)
            files = cls.train_list if split == 'train' else cls.test_list
            parts = np.array_split(rng.permutation(len(images)), len(files))
            for index, ((name, _), part) in enumerate(zip(files, parts)):
                batch = {
                    'batch_label': f'{split} batch {index + 1} of '
                                   f'{len(files)}',
                    cls.LABEL_KEY: labels[part].tolist(),
                    'data': rows[part],
                }
                if names is not None:
                    batch['filenames'] = [names[i] for i in part]
                checksums[name] = write_pickle(osp.join(folder, name), batch)
        checksums[cls.meta['filename']] = write_pickle(
            osp.join(folder, cls.meta['filename']),
            {cls.meta['key']: list(cls.METAINFO['classes'])})
        with open(listed, 'w') as f:
            f.writelines(f'{md5}  {name}\n' for name, md5 in checksums.items())
        return folder


def write_pickle(path: str, content: dict) -> str:
    """Write ``content`` and return its md5."""
    data = pickle.dumps(content, protocol=4)
    with open(path, 'wb') as f:
        f.write(data)
    return hashlib.md5(data).hexdigest()


@DATASETS.register_module()
class CheckedCIFAR10(CheckedCIFARMixin, CIFAR10):
    """CIFAR-10 (Krizhevsky, "Learning Multiple Layers of Features from Tiny
    Images", 2009) from ``cifar-10-python.tar.gz`` extracted under
    ``data_root`` (``cifar-10-batches-py/data_batch_1..5``, ``test_batch``,
    ``batches.meta``), as mmpretrain's :class:`CIFAR10` reads it, but a
    missing or mismatching file is named, files are unpickled without
    running code, and nothing is downloaded (mmpretrain's class rejects any
    file whose md5 differs and then offers to download).

    Args:
        data_root (str): The folder holding ``cifar-10-batches-py/``.
        split (str): ``'train'`` (50,000 images) or ``'test'`` (10,000).
        download (bool): Must stay ``False``; accepted for configs written
            for mmpretrain's class.
        **kwargs: Other :class:`BaseDataset` arguments (``pipeline``, ...).

    Raises:
        FileNotFoundError: naming the missing file.
        ValueError: naming a file whose md5, content or class names differ.
    """

    NAME = 'CIFAR-10'
    LABEL_KEY = 'labels'


@DATASETS.register_module()
class CheckedCIFAR100(CheckedCIFARMixin, CIFAR100):
    """CIFAR-100 (100 fine classes) from ``cifar-100-python.tar.gz``
    extracted under ``data_root`` (``cifar-100-python/train``, ``test``,
    ``meta``); checked as :class:`CheckedCIFAR10`.

    Args:
        data_root (str): The folder holding ``cifar-100-python/``.
        split (str): ``'train'`` (50,000 images) or ``'test'`` (10,000).
        download (bool): Must stay ``False``.
        **kwargs: Other :class:`BaseDataset` arguments.
    """

    NAME = 'CIFAR-100'
    LABEL_KEY = 'fine_labels'


# The layouts CachedImageDataset and the converter name.
CIFAR_VARIANTS = {'cifar10': CheckedCIFAR10, 'cifar100': CheckedCIFAR100}
