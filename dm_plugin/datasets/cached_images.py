"""Small-image datasets decoded once into a uint8 array cached on disk."""
import fcntl
import glob
import hashlib
import json
import os
import os.path as osp
import shutil
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from mmengine.dataset import pseudo_collate
from mmengine.logging import print_log
from mmengine.registry import FUNCTIONS
from mmpretrain.datasets.custom import find_folders, get_samples
from mmpretrain.registry import DATASETS
from mmpretrain.structures import DataSample
from torch.utils.data import Dataset

from dm_plugin.validation import check_choice, check_int
from .cifar import CIFAR_VARIANTS
from .tiny_imagenet import TinyImageNetDataset
from .transforms import SafeLoadImageFromFile

LAYOUTS = ('imagefolder', 'cifar10', 'cifar100', 'tiny-imagenet')
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif',
                    '.tiff', '.webp')
# Part of every cache key: bump when what is cached changes.
CACHE_FORMAT = 1


def default_cache_dir() -> str:
    """``$DM_PLUGIN_CACHE_DIR``, else ``$XDG_CACHE_HOME/dm_plugin`` (by
    default ``~/.cache/dm_plugin``)."""
    if os.environ.get('DM_PLUGIN_CACHE_DIR'):
        return os.environ['DM_PLUGIN_CACHE_DIR']
    xdg = os.environ.get('XDG_CACHE_HOME') or osp.join('~', '.cache')
    return osp.expanduser(osp.join(xdg, 'dm_plugin'))


def list_image_folder(data_root: str,
                      split: str) -> Tuple[Tuple[str], List[str], List[int]]:
    """Classes, image paths and labels of ``data_root/split/<class>/...``,
    in mmpretrain ``CustomDataset``'s order (so item ``i`` is the same image
    in both). A non-train split must have the class folders of ``train/``
    when that exists: a missing folder would shift every later label."""
    root = osp.join(data_root, split)
    if not osp.isdir(root):
        raise FileNotFoundError(f'image folder {root} not found (data_root '
                                f'{data_root!r}, split {split!r})')
    classes, folder_to_idx = find_folders(root)
    if not classes:
        raise ValueError(f'image folder {root} has no class folders')
    train_root = osp.join(data_root, 'train')
    if split != 'train' and osp.isdir(train_root):
        train_classes = find_folders(train_root)[0]
        if train_classes != classes:
            missing = sorted(set(train_classes) - set(classes))
            extra = sorted(set(classes) - set(train_classes))
            raise ValueError(
                f'{root}: class folders differ from {train_root} (missing '
                f'{missing}, extra {extra}); labels would not match')
    samples, empty = get_samples(
        root, folder_to_idx,
        lambda name: name.lower().endswith(IMAGE_EXTENSIONS))
    if empty:
        raise ValueError(f'{root}: class folders without images: '
                         f'{sorted(empty)}')
    return (tuple(classes), [osp.join(root, path) for path, _ in samples],
            [label for _, label in samples])


def list_tiny_imagenet(data_root: str,
                       split: str) -> Tuple[Tuple[str], List[str], List[int]]:
    """Classes, image paths and labels as :class:`TinyImageNetDataset`
    reads them."""
    dataset = TinyImageNetDataset(data_root, split=split, lazy_init=True)
    items = dataset.load_data_list()
    return (dataset.metainfo['classes'], [item['img_path'] for item in items],
            [item['gt_label'] for item in items])


def source_key(paths: Sequence[str], data_root: str, extra: dict) -> str:
    """Hash of the source files (path relative to ``data_root``, size,
    modification time) and of ``extra``: a changed, added or removed file
    gives another key."""
    digest = hashlib.sha256(
        json.dumps(dict(extra, format=CACHE_FORMAT), sort_keys=True).encode())
    for path in paths:
        stat = os.stat(path)
        digest.update(f'{osp.relpath(path, data_root)}\t{stat.st_size}\t'
                      f'{stat.st_mtime_ns}\n'.encode())
    return digest.hexdigest()


def decode_images(paths: Sequence[str], out_file: str,
                  threads: int) -> np.ndarray:
    """Decode ``paths`` (cv2, as mmpretrain's ``LoadImageFromFile``) into an
    (N, H, W, 3) uint8 RGB array written to ``out_file``; every image must
    have the size of the first."""
    loader = SafeLoadImageFromFile()

    def rgb(path):
        image = loader.read_image(path)
        return path, image[..., ::-1]  # BGR to RGB

    first = rgb(paths[0])[1]  # 'color' decoding: always 3 channels
    images = np.lib.format.open_memmap(
        out_file, mode='w+', dtype=np.uint8, shape=(len(paths), ) +
        first.shape)
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for index, (path, image) in enumerate(pool.map(rgb, paths)):
            if image.shape != first.shape:
                raise ValueError(
                    f'{path} is {image.shape[1]}x{image.shape[0]} but '
                    f'{paths[0]} is {first.shape[1]}x{first.shape[0]}: a '
                    'cached dataset needs images of one size (resize them '
                    'first)')
            images[index] = image
    images.flush()
    return images


@DATASETS.register_module()
class CachedImageDataset(Dataset):
    """A small-image classification dataset decoded once into a uint8 array
    cached on disk, so that loading a training batch is an index and a label.

    The first use decodes every image (several threads) into
    ``cache_dir/<layout>-<split>-<key>/`` (``images.npy``, (N, H, W, 3)
    uint8 RGB; ``labels.npy``; ``meta.json``), written into a temporary
    folder and renamed into place, so a crash never leaves a partial cache
    behind and concurrent runs (several ranks or experiments) build it once
    (a file lock) and share it (memory-mapped). The key hashes the source
    files' names, sizes and modification times, the layout, the split and
    the decoder: a changed source is decoded again into a new folder.

    Random crops, flips and normalisation are not per-sample transforms
    here: :class:`BatchTransformPreprocessor` applies them to the whole batch
    on the device. A batch, as ``__getitems__`` gives it and
    :func:`cached_image_collate` passes it on, is
    ``dict(inputs=(B, 3, H, W) uint8 tensor, gt_label=(B,) int64 tensor)``.

    Args:
        data_root (str): The dataset folder.
        layout (str): How ``data_root`` is laid out:

            * ``'imagefolder'``: ``data_root/<split>/<class>/*.jpg`` (or png,
              ...), classes in sorted folder order as mmpretrain's
              ``CustomDataset``; any split must have the ``train/`` classes;
            * ``'cifar10'`` / ``'cifar100'``: the python archives
              (``cifar-10-batches-py/``, ``cifar-100-python/``), split
              ``'train'`` or ``'test'``; every file checked as
              :class:`CheckedCIFAR10` checks it (md5 of the official archive
              or of a copy written by
              ``tools/dataset_converters/folder_to_cifar.py``, class names,
              shapes) and read without running code from the pickles;
            * ``'tiny-imagenet'``: ``tiny-imagenet-200/`` as
              :class:`TinyImageNetDataset` reads it, ``'train'`` or
              ``'val'``.
        split (str): The split. Defaults to ``'train'``.
        cache_dir (str, optional): Where caches live. Defaults to
            ``$DM_PLUGIN_CACHE_DIR``, else ``~/.cache/dm_plugin``.
        decode_threads (int, optional): Threads decoding image files when
            the cache is built. Defaults to the CPU count (at most 16).

    Raises:
        FileNotFoundError: naming a missing folder or file.
        ValueError: naming an unreadable image, an image of another size, a
            split whose classes differ from ``train/``, or a damaged cache.
    """

    def __init__(self,
                 data_root: str,
                 layout: str = 'imagefolder',
                 split: str = 'train',
                 cache_dir: Optional[str] = None,
                 decode_threads: Optional[int] = None):
        check_choice('layout', layout, LAYOUTS)
        if decode_threads is not None:
            check_int('decode_threads', decode_threads, 1)
        if not isinstance(data_root, str) or not osp.isdir(data_root):
            raise FileNotFoundError(f'{layout} data_root {data_root!r} is not '
                                    'a folder')
        self.data_root = data_root
        self.layout = layout
        self.split = split
        self.cache_dir = cache_dir or default_cache_dir()
        self.decode_threads = decode_threads or min(16, os.cpu_count() or 1)
        self.cache_path = self._prepare_cache()
        self._load_cache()

    # -- building and loading the cache ---------------------------------
    def _prepare_cache(self) -> str:
        """The cache folder of the current source, built if missing."""
        if self.layout in CIFAR_VARIANTS:
            paths = CIFAR_VARIANTS[self.layout].split_files(
                self.data_root, self.split)
            listing = None
        else:
            lister = (list_tiny_imagenet if self.layout == 'tiny-imagenet'
                      else list_image_folder)
            listing = lister(self.data_root, self.split)
            paths = listing[1]
        extra = dict(layout=self.layout, split=self.split,
                     decoder=f'cv2 {cv2.__version__}',
                     labels=hashlib.sha256(
                         str(listing[0] + tuple(listing[2])).encode()
                     ).hexdigest() if listing else None)
        key = source_key(paths, self.data_root, extra)
        name = f'{self.layout}-{self.split}-{key[:16]}'
        final = osp.join(self.cache_dir, name)
        if osp.isfile(osp.join(final, 'meta.json')):
            return final
        os.makedirs(self.cache_dir, exist_ok=True)
        with open(osp.join(self.cache_dir, name + '.lock'), 'w') as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                print_log(f'waiting for another process to build {final}',
                          logger='current')
                fcntl.flock(lock, fcntl.LOCK_EX)
            if not osp.isfile(osp.join(final, 'meta.json')):
                self._build(final, key, listing)
        return final

    def _build(self, final: str, key: str, listing) -> None:
        """Decode the source (``listing``: classes, image paths, labels;
        None for CIFAR pickles) into a temporary folder renamed to
        ``final``."""
        # Under the lock: leftovers of crashed builds, or a folder that lost
        # its meta.json, are nobody's.
        for stale in glob.glob(final + '.tmp-*') + glob.glob(final):
            shutil.rmtree(stale, ignore_errors=True)
        tmp = f'{final}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}'
        os.makedirs(tmp)
        start = time.perf_counter()
        try:
            if listing is None:
                images, labels, classes = CIFAR_VARIANTS[
                    self.layout].read_split(self.data_root, self.split)
                np.save(osp.join(tmp, 'images.npy'), images)
            else:
                classes, image_paths, labels = listing
                print_log(
                    f'decoding {len(image_paths)} images of {self.data_root} '
                    f'({self.split}) into {final} with '
                    f'{self.decode_threads} threads', logger='current')
                images = decode_images(image_paths,
                                       osp.join(tmp, 'images.npy'),
                                       self.decode_threads)
            labels = np.asarray(labels, dtype=np.int64)
            np.save(osp.join(tmp, 'labels.npy'), labels)
            meta = dict(format=CACHE_FORMAT, key=key, layout=self.layout,
                        split=self.split, data_root=osp.abspath(
                            self.data_root), classes=list(classes),
                        shape=list(images.shape))
            with open(osp.join(tmp, 'meta.json'), 'w') as f:
                json.dump(meta, f, indent=1)
            del images
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        print_log(f'cached {meta["shape"][0]} images in '
                  f'{time.perf_counter() - start:.1f} s: {final}',
                  logger='current')

    def _load_cache(self) -> None:
        """Memory-map the cache and check it against its ``meta.json``."""
        path = self.cache_path
        try:
            with open(osp.join(path, 'meta.json')) as f:
                meta = json.load(f)
            images = np.load(osp.join(path, 'images.npy'), mmap_mode='r')
            labels = np.load(osp.join(path, 'labels.npy'))
        except (OSError, ValueError) as error:
            raise ValueError(f'damaged dataset cache {path} ({error}); '
                             'delete it to rebuild') from error
        num_classes = len(meta.get('classes', ()))
        if list(images.shape) != meta.get('shape') or images.ndim != 4 or \
                images.dtype != np.uint8 or labels.shape != images.shape[:1] \
                or labels.dtype != np.int64 or num_classes == 0 or (
                    len(labels) and not 0 <= labels.min() <= labels.max() <
                    num_classes):
            raise ValueError(f'damaged dataset cache {path}: arrays do not '
                             'match meta.json; delete it to rebuild')
        self.images, self.labels = images, labels
        self._metainfo = dict(classes=tuple(meta['classes']))

    def __getstate__(self) -> dict:
        """Workers started by spawn re-open the memory map instead of
        receiving a copy of the images."""
        state = dict(self.__dict__)
        del state['images'], state['labels']
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._load_cache()

    # -- the dataset ----------------------------------------------------
    @property
    def metainfo(self) -> dict:
        return dict(self._metainfo)

    def get_gt_labels(self) -> np.ndarray:
        return self.labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict:
        """One image as mmpretrain's ``PackInputs`` gives it:
        ``dict(inputs=(3, H, W) uint8, data_samples=DataSample)``, for
        tools that index datasets."""
        image = torch.from_numpy(np.array(self.images[index]))
        sample = DataSample().set_gt_label(int(self.labels[index]))
        return dict(inputs=image.permute(2, 0, 1), data_samples=sample)

    def __getitems__(self, indices: Sequence[int]) -> dict:
        """A batch: ``dict(inputs=(B, 3, H, W) uint8, gt_label=(B,))``."""
        indices = np.asarray(indices, dtype=np.int64)
        images = torch.from_numpy(np.ascontiguousarray(self.images[indices]))
        return dict(inputs=images.permute(0, 3, 1, 2),
                    gt_label=torch.from_numpy(self.labels[indices]))

    def __repr__(self) -> str:
        return (f'{type(self).__name__}({self.layout} {self.data_root!r}, '
                f'split {self.split!r}, {len(self)} images of '
                f'{tuple(self.images.shape[1:])}, cache {self.cache_path})')


@FUNCTIONS.register_module()
def cached_image_collate(batch) -> dict:
    """Collate for :class:`CachedImageDataset`: passes on the batch its
    ``__getitems__`` built; single items (from wrappers that fetch item by
    item) are collated as mmengine's ``pseudo_collate`` does, a layout
    :class:`BatchTransformPreprocessor` takes as well."""
    return batch if isinstance(batch, Mapping) else pseudo_collate(batch)

