"""Tiny-ImageNet read from its official layout."""
from typing import List

from mmengine import fileio
from mmpretrain.datasets import BaseDataset
from mmpretrain.registry import DATASETS

from dm_plugin.validation import check_choice
from .layout import (check_num_classes, class_folder_items, read_lines,
                     require_path)

NAME = 'Tiny-ImageNet'


@DATASETS.register_module()
class TinyImageNetDataset(BaseDataset):
    """Tiny-ImageNet: 200 ImageNet classes of 64x64 images, 500 training and
    50 validation images per class (Le & Yang, "Tiny ImageNet Visual
    Recognition Challenge", CS231N, 2015).

    Reads the extracted ``tiny-imagenet-200.zip`` as it is; nothing is
    downloaded. Layout under ``data_root``::

        wnids.txt                         the 200 class ids, one per line
        train/<wnid>/images/*.JPEG        training images of each class
        val/val_annotations.txt           <file> <wnid> <x0> <y0> <x1> <y1>
        val/images/val_<k>.JPEG

    Class ``i`` is the ``i``-th of the sorted wnids, the order an ImageFolder
    of ``train/`` gives, so checkpoints carry over to such exports. The
    unlabeled ``test/`` split is not read.

    Args:
        data_root (str): The ``tiny-imagenet-200`` folder.
        split (str): ``'train'`` or ``'val'``. Defaults to ``'train'``.
        **kwargs: Other :class:`BaseDataset` arguments (``pipeline``, ...).
            ``test_mode`` defaults to ``split == 'val'``.

    Raises:
        FileNotFoundError: naming the missing file or folder.
        ValueError: on a wrong class count or an unknown wnid.
    """

    NUM_CLASSES = 200
    IMG_EXTENSIONS = ('.JPEG', '.jpeg', '.jpg', '.png')

    def __init__(self, data_root: str, split: str = 'train', **kwargs):
        check_choice('split', split, ('train', 'val'))
        self.split = split
        kwargs.setdefault('test_mode', split == 'val')
        super().__init__(ann_file='', data_root=data_root, **kwargs)

    def _path(self, *parts: str) -> str:
        return fileio.join_path(self.data_root, *parts)

    def load_data_list(self) -> List[dict]:
        wnids_file = self._path('wnids.txt')
        wnids = read_lines(wnids_file, NAME, 'one wnid per line')
        check_num_classes(wnids, self.NUM_CLASSES, wnids_file, NAME)
        classes = tuple(sorted(wnids))
        self._metainfo['classes'] = classes
        if self.split == 'train':
            return self._train_list(classes)
        return self._val_list({wnid: i for i, wnid in enumerate(classes)})

    def _train_list(self, classes) -> List[dict]:
        data_list = []
        for label, wnid in enumerate(classes):
            folder = require_path(
                self._path('train', wnid, 'images'), NAME,
                f'training images of class {wnid}')
            data_list += class_folder_items(folder, label,
                                            self.IMG_EXTENSIONS, NAME)
        return data_list

    def _val_list(self, label_of: dict) -> List[dict]:
        ann_file = self._path('val', 'val_annotations.txt')
        lines = read_lines(ann_file, NAME, '<file> <wnid> <box> per line')
        folder = self._path('val', 'images')
        data_list = []
        for number, line in enumerate(lines, start=1):
            fields = line.split()
            if len(fields) < 2 or fields[1] not in label_of:
                raise ValueError(f'{NAME}: {ann_file}, line {number}: '
                                 f'expected "<file> <wnid> ..." with a wnid '
                                 f'of wnids.txt, got {line!r}')
            data_list.append(
                dict(
                    img_path=fileio.join_path(folder, fields[0]),
                    gt_label=label_of[fields[1]]))
        if data_list:
            require_path(data_list[0]['img_path'], NAME,
                         f'first image listed in {ann_file}')
        return data_list

    def extra_repr(self) -> List[str]:
        return [
            f'Root of dataset: \t{self.data_root}', f'Split: \t{self.split}'
        ]
