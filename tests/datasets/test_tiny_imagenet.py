import os
import shutil

import pytest
from mmpretrain.registry import DATASETS
from PIL import Image

from dm_plugin.datasets import TinyImageNetDataset

# 200 distinct wnids, deliberately not in sorted order in wnids.txt.
WNIDS = [f'n{(37 * k) % 1000:08d}' for k in range(200)]
VAL = [('val_0.JPEG', WNIDS[5]), ('val_1.JPEG', WNIDS[0]),
       ('val_2.JPEG', WNIDS[199])]


def write_tiny_imagenet(root):
    """The official tiny-imagenet-200 layout, one 64x64 image per class."""
    root.mkdir()
    (root / 'wnids.txt').write_text('\n'.join(WNIDS) + '\n')
    for k, wnid in enumerate(WNIDS):
        images = root / 'train' / wnid / 'images'
        images.mkdir(parents=True)
        Image.new('RGB', (64, 64), (k, 0, 0)).save(images / f'{wnid}_0.JPEG')
        (root / 'train' / wnid /
         f'{wnid}_boxes.txt').write_text(f'{wnid}_0.JPEG\t0\t0\t63\t63\n')
    (root / 'val' / 'images').mkdir(parents=True)
    lines = []
    for name, wnid in VAL:
        Image.new('RGB', (64, 64)).save(root / 'val' / 'images' / name)
        lines.append(f'{name}\t{wnid}\t1\t2\t60\t61')
    (root / 'val' / 'val_annotations.txt').write_text('\n'.join(lines) + '\n')
    return root


@pytest.fixture(scope='module')
def pristine_root(tmp_path_factory):
    return write_tiny_imagenet(
        tmp_path_factory.mktemp('tiny') / 'tiny-imagenet-200')


@pytest.fixture
def tiny_root(pristine_root, tmp_path):
    """A fresh copy of the tree, free to break."""
    return shutil.copytree(pristine_root, tmp_path / 'tiny-imagenet-200')


def test_train_split_sorted_wnid_labels_and_image_size(tiny_root):
    dataset = TinyImageNetDataset(
        str(tiny_root),
        split='train',
        pipeline=[dict(type='LoadImageFromFile')])
    classes = tuple(sorted(WNIDS))
    assert dataset.CLASSES == classes and len(classes) == 200
    assert len(dataset) == 200
    for i in (0, 57, 199):
        info = dataset.get_data_info(i)
        wnid = os.path.basename(
            os.path.dirname(os.path.dirname(info['img_path'])))
        assert classes[info['gt_label']] == wnid
    assert dataset[3]['img'].shape == (64, 64, 3)
    assert not dataset.test_mode


def test_val_split_labels_from_annotations(tiny_root):
    dataset = DATASETS.build(
        dict(
            type='TinyImageNetDataset', data_root=str(tiny_root), split='val'))
    classes = sorted(WNIDS)
    assert len(dataset) == len(VAL)
    assert [dataset.get_data_info(i)['gt_label']
            for i in range(3)] == [classes.index(wnid) for _, wnid in VAL]
    assert dataset.test_mode


@pytest.mark.parametrize('split, missing', [
    ('train', 'wnids.txt'),
    ('val', 'val/val_annotations.txt'),
    ('val', 'val/images/val_0.JPEG'),
    ('train', f'train/{WNIDS[7]}/images'),
])
def test_missing_file_is_named(tiny_root, split, missing):
    path = tiny_root / missing
    if path.is_dir():
        for child in path.iterdir():
            child.unlink()
        path.rmdir()
    else:
        path.unlink()
    with pytest.raises(FileNotFoundError, match=missing):
        TinyImageNetDataset(str(tiny_root), split=split)


def test_wrong_class_count(tiny_root):
    (tiny_root / 'wnids.txt').write_text('\n'.join(WNIDS[:199]))
    with pytest.raises(ValueError, match='199 classes, expected 200'):
        TinyImageNetDataset(str(tiny_root))


def test_unknown_wnid_in_val_annotations(tiny_root):
    with open(tiny_root / 'val' / 'val_annotations.txt', 'a') as f:
        f.write('val_9.JPEG\tn99999999\t0\t0\t1\t1\n')
    with pytest.raises(ValueError, match='val_annotations.txt, line 4'):
        TinyImageNetDataset(str(tiny_root), split='val')


def test_bad_split():
    with pytest.raises(ValueError, match='split'):
        TinyImageNetDataset('unused', split='test')
