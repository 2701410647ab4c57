"""Stanford Cars read from its devkit layout or from an ImageFolder export."""
import io
from typing import List

import numpy as np
from mmengine import fileio
from mmpretrain.datasets import BaseDataset
from mmpretrain.registry import DATASETS

from dm_plugin.validation import check_choice
from .layout import check_num_classes, class_folder_items, require_path

NAME = 'Stanford Cars'
LAYOUTS = ('auto', 'devkit', 'folder')
TEST_ANNOS = 'cars_test_annos_withlabels.mat'


def load_mat_variable(path: str, key: str) -> np.ndarray:
    """Variable ``key`` of a MATLAB file (singleton dimensions squeezed)."""
    from scipy.io import loadmat

    require_path(path, NAME)
    content = loadmat(io.BytesIO(fileio.get(path)), squeeze_me=True)
    if key not in content:
        raise KeyError(f'{NAME}: {path} has no {key!r} variable')
    return content[key]


def struct_field(struct: np.ndarray, field: str, path: str) -> np.ndarray:
    """(N,) values of ``field`` of a MATLAB struct array read from ``path``."""
    if struct.dtype.names is None or field not in struct.dtype.names:
        raise KeyError(f'{NAME}: the annotations in {path} have no '
                       f'{field!r} field')
    return np.atleast_1d(struct[field])


@DATASETS.register_module()
class StanfordCarsDataset(BaseDataset):
    """Stanford Cars: 196 car models, 8,144 training and 8,041 test images
    (Krause et al., "3D Object Representations for Fine-Grained
    Categorization", 3dRR workshop at ICCV 2013).

    Reads one of two layouts under ``data_root``; nothing is downloaded.

    * ``'devkit'``, the official archives extracted side by side::

          cars_train/<fname>, cars_test/<fname>
          devkit/cars_meta.mat               class_names (196)
          devkit/cars_train_annos.mat        annotations: fname, class, bbox
          cars_test_annos_withlabels.mat     (or under devkit/)

      Class ``i`` is ``class_names[i]`` (annotation class ``i + 1``).
    * ``'folder'``, the common ImageFolder export::

          train/<class name>/*.jpg, test/<class name>/*.jpg

      Class ``i`` is the ``i``-th sorted folder name.

    ``'auto'`` picks ``'devkit'`` when ``devkit/cars_meta.mat`` exists, else
    ``'folder'``. Bounding boxes are not used (the mixup benchmarks train on
    whole images).

    Args:
        data_root (str): The dataset folder.
        split (str): ``'train'`` or ``'test'``. Defaults to ``'train'``.
        layout (str): ``'auto'``, ``'devkit'`` or ``'folder'``.
            Defaults to ``'auto'``.
        **kwargs: Other :class:`BaseDataset` arguments (``pipeline``, ...).
            ``test_mode`` defaults to ``split == 'test'``.

    Raises:
        FileNotFoundError: naming the missing file or folder.
        KeyError: when a MATLAB file lacks the expected variable or field.
        ValueError: on a wrong class count or an out-of-range class id.
    """

    NUM_CLASSES = 196
    IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.JPG', '.JPEG', '.PNG')

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 layout: str = 'auto',
                 **kwargs):
        check_choice('split', split, ('train', 'test'))
        check_choice('layout', layout, LAYOUTS)
        self.split = split
        self.layout = layout
        kwargs.setdefault('test_mode', split == 'test')
        super().__init__(ann_file='', data_root=data_root, **kwargs)

    def _path(self, *parts: str) -> str:
        return fileio.join_path(self.data_root, *parts)

    def resolved_layout(self) -> str:
        """The layout read: ``layout`` unless it is ``'auto'``."""
        if self.layout != 'auto':
            return self.layout
        meta_file = self._path('devkit', 'cars_meta.mat')
        if fileio.exists(meta_file):
            return 'devkit'
        split_dir = self._path(self.split)
        if fileio.exists(split_dir) and fileio.isdir(split_dir):
            return 'folder'
        raise FileNotFoundError(
            f'{NAME}: found neither {meta_file} (devkit layout) nor '
            f'{split_dir}/<class name>/ (ImageFolder export); check data_root')

    def load_data_list(self) -> List[dict]:
        if self.resolved_layout() == 'devkit':
            return self._devkit_list()
        return self._folder_list()

    def _test_annotations_file(self) -> str:
        candidates = [self._path(TEST_ANNOS), self._path('devkit', TEST_ANNOS)]
        for path in candidates:
            if fileio.exists(path):
                return path
        raise FileNotFoundError(
            f'{NAME}: {TEST_ANNOS} not found at {" or ".join(candidates)}; '
            'the test labels ship separately from the devkit '
            '(devkit/cars_test_annos.mat has none)')

    def _devkit_list(self) -> List[dict]:
        meta_file = self._path('devkit', 'cars_meta.mat')
        classes = tuple(
            str(name) for name in np.atleast_1d(
                load_mat_variable(meta_file, 'class_names')))
        check_num_classes(classes, self.NUM_CLASSES, meta_file, NAME)
        self._metainfo['classes'] = classes

        if self.split == 'train':
            ann_file = self._path('devkit', 'cars_train_annos.mat')
        else:
            ann_file = self._test_annotations_file()
        annotations = load_mat_variable(ann_file, 'annotations')
        names = struct_field(annotations, 'fname', ann_file)
        class_ids = struct_field(annotations, 'class',
                                 ann_file).astype(np.int64)
        out_of_range = (class_ids < 1) | (class_ids > self.NUM_CLASSES)
        if out_of_range.any():
            bad = np.unique(class_ids[out_of_range]).tolist()
            raise ValueError(f'{NAME}: {ann_file} has class ids outside '
                             f'1..{self.NUM_CLASSES}: {bad}')

        folder = require_path(
            self._path(f'cars_{self.split}'), NAME,
            f'the images listed in {ann_file}')
        data_list = [
            dict(
                img_path=fileio.join_path(folder, str(name)),
                gt_label=int(class_id) - 1)
            for name, class_id in zip(names, class_ids)
        ]
        if data_list:
            require_path(data_list[0]['img_path'], NAME,
                         f'first image listed in {ann_file}')
        return data_list

    def _folder_list(self) -> List[dict]:
        split_dir = require_path(
            self._path(self.split), NAME,
            'ImageFolder export: <split>/<class name>/*.jpg')
        classes = tuple(
            sorted(fileio.list_dir_or_file(split_dir, list_file=False)))
        check_num_classes(classes, self.NUM_CLASSES, split_dir, NAME)
        self._metainfo['classes'] = classes
        data_list = []
        for label, name in enumerate(classes):
            data_list += class_folder_items(
                fileio.join_path(split_dir, name), label,
                self.IMG_EXTENSIONS, NAME)
        return data_list

    def extra_repr(self) -> List[str]:
        return [
            f'Root of dataset: \t{self.data_root}',
            f'Split: \t{self.split}',
            f'Layout: \t{self.layout}',
        ]
