"""CIFAR-10/100 read from the python archives, with every file checked and
nothing downloaded."""
import codecs
import io
import pickle
from typing import Dict, List

import numpy as np
from mmengine import fileio
from mmpretrain.datasets import CIFAR10, CIFAR100
from mmpretrain.datasets.utils import calculate_md5
from mmpretrain.registry import DATASETS

from dm_plugin.validation import check_choice
from .layout import require_path

# Checksums of a copy written by tools/dataset_converters/folder_to_cifar.py
# (md5sum's format: "<md5>  <file name>" per line), accepted besides the
# official archive's.
CONVERTED_CHECKSUMS = 'MD5SUMS'


class CIFARUnpickler(pickle.Unpickler):
    """Unpickles a CIFAR batch (dicts, lists, numbers, strings and numpy
    arrays) and refuses any other global, so a file from elsewhere cannot run
    code. Arrays are used only after their dtype is checked (an object array
    built from raw bytes would hold pointers the file chose)."""

    # What ``numpy.ndarray`` stands for: only the subtype argument of
    # ``_reconstruct``, never a constructor the file can call.
    NDARRAY = object()

    def __init__(self, file, path: str):
        super().__init__(file, encoding='latin1')
        self.path = path

    def find_class(self, module: str, name: str):
        core = module in ('numpy.core.multiarray', 'numpy._core.multiarray')
        if core and name == '_reconstruct':
            return self.reconstruct
        if (module, name) == ('numpy', 'ndarray'):
            return self.NDARRAY
        if (module, name) == ('numpy', 'dtype'):
            return self.dtype
        if (module, name) == ('_codecs', 'encode'):
            return codecs.encode
        raise pickle.UnpicklingError(
            f'{self.path}: refusing {module}.{name}: a CIFAR batch holds '
            'arrays, lists and strings only')

    def dtype(self, *args):
        dtype = np.dtype(*args)
        if dtype.hasobject:
            raise pickle.UnpicklingError(
                f'{self.path}: refusing an object array (dtype {dtype})')
        return dtype

    def reconstruct(self, subtype, shape, dtype):
        if subtype is not self.NDARRAY:
            raise pickle.UnpicklingError(
                f'{self.path}: refusing an array of type {subtype!r}')
        core = getattr(np, '_core', None) or np.core
        return core.multiarray._reconstruct(np.ndarray, shape,
                                            self.dtype(dtype))


def read_batch(path: str, dataset: str) -> dict:
    """A CIFAR python pickle (``data_batch_1``, ``test``, ``meta``, ...)."""
    require_path(path, dataset, 'from the python archive extracted under '
                 'data_root; see docs/datasets.md')
    try:
        content = CIFARUnpickler(io.BytesIO(fileio.get(path)), path).load()
    except pickle.UnpicklingError:
        raise
    except Exception as error:
        raise ValueError(f'{dataset}: {path} is not a CIFAR python pickle '
                         f'({type(error).__name__}: {error})') from None
    if not isinstance(content, dict):
        raise ValueError(f'{dataset}: {path} holds a '
                         f'{type(content).__name__}, not a CIFAR dict')
    return content


def read_checksums(path: str) -> Dict[str, str]:
    """``{file name: md5}`` from an md5sum-format file."""
    checksums = {}
    for line in fileio.get_text(path).splitlines():
        md5, _, name = line.strip().partition('  ')
        if md5 and name:
            checksums[name] = md5
    return checksums


class CheckedCIFARMixin:
    """What :class:`CheckedCIFAR10` and :class:`CheckedCIFAR100` add to
    mmpretrain's classes: each file of the split is required by name, its
    md5 must be the official archive's (or the one a converted copy lists in
    ``MD5SUMS``), it is unpickled without running code and checked for shape
    and labels, and nothing is ever downloaded."""

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

    @property
    def folder(self) -> str:
        return fileio.join_path(self.data_prefix['root'], self.base_folder)

    def expected_md5(self) -> Dict[str, List[str]]:
        """``{file name: accepted md5s}``: the official one, and the one in
        ``MD5SUMS`` when the folder has that file."""
        official = {name: md5 for name, md5 in self.train_list +
                    self.test_list}
        official[self.meta['filename']] = self.meta['md5']
        accepted = {name: [md5] for name, md5 in official.items()}
        listed = fileio.join_path(self.folder, CONVERTED_CHECKSUMS)
        if fileio.exists(listed):
            for name, md5 in read_checksums(listed).items():
                accepted.setdefault(name, []).append(md5)
        return accepted

    def checked_batch(self, name: str, accepted: Dict[str, List[str]]):
        path = fileio.join_path(self.folder, name)
        require_path(path, self.NAME,
                     f'{self.filename} extracted under data_root, or a copy '
                     'written by tools/dataset_converters/folder_to_cifar.py')
        md5 = calculate_md5(path)
        if md5 not in accepted[name]:
            raise ValueError(
                f'{self.NAME}: {path} has md5 {md5}, expected '
                f'{" or ".join(accepted[name])} ({self.filename}, or the '
                f'{CONVERTED_CHECKSUMS} of a converted copy): the file is '
                'damaged or from another dataset')
        return path, read_batch(path, self.NAME)

    def load_data_list(self) -> List[dict]:
        accepted = self.expected_md5()
        num_classes = len(self._load_classes(accepted))
        files = self.train_list if self.split == 'train' else self.test_list
        images, labels = [], []
        for name, _ in files:
            path, batch = self.checked_batch(name, accepted)
            data = batch.get('data')
            label = np.asarray(batch.get(self.LABEL_KEY, []))
            if not isinstance(data, np.ndarray) or data.dtype != np.uint8 \
                    or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
                raise ValueError(f'{self.NAME}: {path}: data must be a '
                                 '(N, 3072) uint8 array, got '
                                 f'{getattr(data, "shape", type(data))}')
            if label.shape != (len(data), ) or not np.issubdtype(
                    label.dtype, np.integer) or label.min(
                        initial=0) < 0 or label.max(initial=0) >= num_classes:
                raise ValueError(f'{self.NAME}: {path}: {self.LABEL_KEY!r} '
                                 f'must be {len(data)} class indices in '
                                 f'[0, {num_classes})')
            images.append(data)
            labels.append(label)
        images = np.concatenate(images).reshape(-1, 3, 32, 32).transpose(
            0, 2, 3, 1)
        return [dict(img=img, gt_label=int(label))
                for img, label in zip(images, np.concatenate(labels))]

    def _load_classes(self, accepted) -> List[str]:
        """The class names of the meta file; they must be this dataset's."""
        path, meta = self.checked_batch(self.meta['filename'], accepted)
        names = meta.get(self.meta['key'])
        if not isinstance(names, list) or not all(
                isinstance(name, str) for name in names):
            raise ValueError(f'{self.NAME}: {path}: {self.meta["key"]!r} '
                             'must be a list of class names')
        expected = list(self.METAINFO['classes'])
        if names != expected:
            raise ValueError(
                f'{self.NAME}: {path} lists classes {names[:5]}... ('
                f'{len(names)}), expected the {len(expected)} classes of '
                f'{self.NAME} in order ({expected[:3]}...)')
        return names

    def extra_repr(self) -> List[str]:
        return [f'Root of dataset: \t{self.data_prefix["root"]}',
                f'Split: \t{self.split}']


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
