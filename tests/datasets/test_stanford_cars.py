import numpy as np
import pytest
from mmpretrain.registry import DATASETS
from PIL import Image
from scipy.io import savemat

from conftest import write_image_folder
from dm_plugin.datasets import StanfordCarsDataset

CLASS_NAMES = [f'Make{k} Model {k % 7} 20{k % 13:02d}' for k in range(196)]
# (fname, 1-based class id) as in the devkit's annotation structs
TRAIN = [('00001.jpg', 1), ('00002.jpg', 196), ('00003.jpg', 14)]
TEST = [('00001.jpg', 100), ('00002.jpg', 2)]
FIELDS = ('bbox_x1', 'bbox_y1', 'bbox_x2', 'bbox_y2', 'class', 'fname')


def save_annotations(path, samples, fields=FIELDS):
    """A 1xN MATLAB struct array ``annotations`` like the devkit's."""
    structs = np.zeros((1, len(samples)), dtype=[(f, 'O') for f in fields])
    for i, (fname, class_id) in enumerate(samples):
        values = dict(
            bbox_x1=np.uint16(2),
            bbox_y1=np.uint16(3),
            bbox_x2=np.uint16(30),
            bbox_y2=np.uint16(20),
            fname=fname)
        values['class'] = np.uint8(class_id)
        structs[0, i] = tuple(values[f] for f in fields)
    savemat(path, {'annotations': structs})


def write_devkit(root, test_annos_in_devkit=False):
    """cars_train/, cars_test/, devkit/ and the labelled test annotations."""
    (root / 'devkit').mkdir(parents=True)
    savemat(root / 'devkit' / 'cars_meta.mat',
            {'class_names': np.array([CLASS_NAMES], dtype=object)})
    save_annotations(root / 'devkit' / 'cars_train_annos.mat', TRAIN)
    test_dir = root / 'devkit' if test_annos_in_devkit else root
    save_annotations(test_dir / 'cars_test_annos_withlabels.mat', TEST)
    for split, samples in (('train', TRAIN), ('test', TEST)):
        (root / f'cars_{split}').mkdir()
        for fname, _ in samples:
            Image.new('RGB', (36, 24)).save(root / f'cars_{split}' / fname)
    return root


@pytest.fixture
def devkit_root(tmp_path):
    return write_devkit(tmp_path / 'stanford_cars')


@pytest.mark.parametrize('split, samples', [('train', TRAIN), ('test', TEST)])
def test_devkit_sizes_labels_and_classes(devkit_root, split, samples):
    dataset = DATASETS.build(
        dict(
            type='StanfordCarsDataset',
            data_root=str(devkit_root),
            split=split,
            pipeline=[dict(type='LoadImageFromFile')]))
    assert dataset.resolved_layout() == 'devkit'
    assert dataset.CLASSES == tuple(CLASS_NAMES)
    assert len(dataset) == len(samples)
    for i, (fname, class_id) in enumerate(samples):
        info = dataset.get_data_info(i)
        assert info['gt_label'] == class_id - 1
        assert info['img_path'].endswith(f'cars_{split}/{fname}')
    assert dataset[0]['img'].shape == (24, 36, 3)
    assert dataset.test_mode == (split == 'test')


def test_test_annotations_may_sit_in_devkit(tmp_path):
    root = write_devkit(tmp_path / 'cars', test_annos_in_devkit=True)
    dataset = StanfordCarsDataset(str(root), split='test')
    assert [dataset.get_data_info(i)['gt_label'] for i in range(2)] == [99, 1]


@pytest.mark.parametrize('split, missing', [
    ('train', 'devkit/cars_train_annos.mat'),
    ('test', 'cars_test_annos_withlabels.mat'),
    ('train', 'cars_train/00001.jpg'),
])
def test_devkit_missing_file_is_named(devkit_root, split, missing):
    (devkit_root / missing).unlink()
    with pytest.raises(FileNotFoundError, match=missing):
        StanfordCarsDataset(str(devkit_root), split=split)


def test_devkit_missing_class_field(devkit_root):
    save_annotations(
        devkit_root / 'devkit' / 'cars_train_annos.mat',
        TRAIN,
        fields=FIELDS[:4] + ('fname', ))
    with pytest.raises(KeyError, match="no 'class' field"):
        StanfordCarsDataset(str(devkit_root))


def test_devkit_class_id_out_of_range(devkit_root):
    save_annotations(devkit_root / 'devkit' / 'cars_train_annos.mat',
                     TRAIN + [('00004.jpg', 0)])
    with pytest.raises(ValueError, match=r'outside 1\.\.196: \[0\]'):
        StanfordCarsDataset(str(devkit_root))


def test_devkit_wrong_class_count(devkit_root):
    savemat(devkit_root / 'devkit' / 'cars_meta.mat',
            {'class_names': np.array([CLASS_NAMES[:195]], dtype=object)})
    with pytest.raises(ValueError, match='195 classes, expected 196'):
        StanfordCarsDataset(str(devkit_root))


def test_image_folder_export(tmp_path):
    root = tmp_path / 'car_data'
    write_image_folder(
        str(root / 'train'), num_classes=196, per_class=1, size=(8, 8))
    dataset = StanfordCarsDataset(
        str(root), pipeline=[dict(type='LoadImageFromFile')])
    assert dataset.resolved_layout() == 'folder'
    folders = sorted(f'class_{k}' for k in range(196))
    assert dataset.CLASSES == tuple(folders)
    assert len(dataset) == 196
    info = dataset.get_data_info(folders.index('class_10'))
    assert '/class_10/' in info['img_path']
    assert info['gt_label'] == folders.index('class_10') == 2
    assert dataset[0]['img'].shape == (8, 8, 3)


def test_image_folder_wrong_class_count(tmp_path):
    write_image_folder(str(tmp_path / 'train'), num_classes=3, per_class=1)
    with pytest.raises(ValueError, match='3 classes, expected 196'):
        StanfordCarsDataset(str(tmp_path))


def test_no_layout_names_both(tmp_path):
    with pytest.raises(
            FileNotFoundError,
            match='devkit/cars_meta.mat.*test/<class name>'):
        StanfordCarsDataset(str(tmp_path), split='test')


def test_forced_devkit_layout_names_meta(tmp_path):
    write_image_folder(str(tmp_path / 'train'), num_classes=2, per_class=1)
    with pytest.raises(FileNotFoundError, match='devkit/cars_meta.mat'):
        StanfordCarsDataset(str(tmp_path), layout='devkit')


@pytest.mark.parametrize('kwargs', [dict(split='val'), dict(layout='zip')])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        StanfordCarsDataset('unused', **kwargs)
