import pytest
from mmpretrain.registry import DATASETS
from PIL import Image

from dm_plugin.datasets import FGVCAircraftDataset

# 100 variant names; like the real ones, some contain spaces and slashes.
VARIANTS = [f'Model {k}-{3 * k}' if k % 2 else f'F-{k}A/B' for k in range(100)]
SPLITS = {
    'train': [('0000001', 3), ('0000002', 98)],
    'val': [('0000003', 0)],
    'trainval': [('0000001', 3), ('0000002', 98), ('0000003', 0)],
    'test': [('1000004', 99), ('1000005', 3)],
}


def write_aircraft(root):
    """The official fgvc-aircraft-2013b layout with tiny images."""
    data = root / 'data'
    (data / 'images').mkdir(parents=True)
    (data / 'variants.txt').write_text('\n'.join(VARIANTS) + '\n')
    for split, samples in SPLITS.items():
        lines = [
            f'{image_id} {VARIANTS[label]}' for image_id, label in samples
        ]
        (data / f'images_variant_{split}.txt').write_text('\n'.join(lines))
        for image_id, _ in samples:
            Image.new('RGB',
                      (40, 30)).save(data / 'images' / f'{image_id}.jpg')
    return root


@pytest.fixture
def aircraft_root(tmp_path):
    return write_aircraft(tmp_path / 'fgvc-aircraft-2013b')


@pytest.mark.parametrize('split', sorted(SPLITS))
def test_splits_sizes_and_variant_labels(aircraft_root, split):
    dataset = DATASETS.build(
        dict(
            type='FGVCAircraftDataset',
            data_root=str(aircraft_root),
            split=split,
            pipeline=[dict(type='LoadImageFromFile')]))
    assert dataset.CLASSES == tuple(VARIANTS)
    assert len(dataset) == len(SPLITS[split])
    for i, (image_id, label) in enumerate(SPLITS[split]):
        info = dataset.get_data_info(i)
        assert info['gt_label'] == label
        assert info['img_path'].endswith(f'images/{image_id}.jpg')
    assert dataset[0]['img'].shape == (30, 40, 3)
    assert dataset.test_mode == (split == 'test')


def test_default_split_is_trainval(aircraft_root):
    assert len(FGVCAircraftDataset(str(aircraft_root))) == 3


@pytest.mark.parametrize('missing', [
    'data/variants.txt', 'data/images_variant_test.txt',
    'data/images/1000004.jpg'
])
def test_missing_file_is_named(aircraft_root, missing):
    (aircraft_root / missing).unlink()
    with pytest.raises(FileNotFoundError, match=missing):
        FGVCAircraftDataset(str(aircraft_root), split='test')


def test_wrong_class_count(aircraft_root):
    (aircraft_root / 'data' / 'variants.txt').write_text('\n'.join(
        VARIANTS[:-1]))
    with pytest.raises(ValueError, match='99 classes, expected 100'):
        FGVCAircraftDataset(str(aircraft_root))


def test_unknown_variant(aircraft_root):
    with open(aircraft_root / 'data' / 'images_variant_val.txt', 'a') as f:
        f.write('\n0000009 Concorde\n')
    with pytest.raises(ValueError, match="line 2: variant 'Concorde'"):
        FGVCAircraftDataset(str(aircraft_root), split='val')


def test_bad_split():
    with pytest.raises(ValueError, match='split'):
        FGVCAircraftDataset('unused', split='validation')
