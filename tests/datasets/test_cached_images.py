"""CachedImageDataset: the pixels and labels of the per-sample datasets, one
decode, a key that notices a changed source, atomic and shared builds, and
errors that name the problem."""
import os
import os.path as osp
import pickle
import shutil
import time
from concurrent.futures import ThreadPoolExecutor

import mmcv
import numpy as np
import pytest
import torch
from mmpretrain.registry import DATASETS, MODELS
from PIL import Image

from conftest import write_image_folder
from dm_plugin.datasets import CachedImageDataset, cached_image_collate
from dm_plugin.datasets import cached_images
from test_cifar import write_random_cifar
from test_tiny_imagenet import write_tiny_imagenet


@pytest.fixture
def folder(tmp_path):
    """data/train and data/test: 3 classes x 4 images of 16x16."""
    root = tmp_path / 'data'
    write_image_folder(str(root / 'train'))
    write_image_folder(str(root / 'test'), seed=1)
    return str(root)


def build(data_root, tmp_path, **kwargs):
    return CachedImageDataset(data_root, cache_dir=str(tmp_path / 'cache'),
                              **kwargs)


def test_imagefolder_matches_custom_dataset_item_by_item(folder, tmp_path):
    dataset = build(folder, tmp_path, split='test')
    stock = DATASETS.build(dict(type='CustomDataset', data_root=folder,
                                data_prefix='test',
                                pipeline=[dict(type='LoadImageFromFile')]))
    assert len(dataset) == len(stock) == 12
    assert dataset.metainfo['classes'] == stock.metainfo['classes']
    for i in range(len(stock)):
        item = stock[i]
        rgb = mmcv.bgr2rgb(item['img'])  # LoadImageFromFile gives BGR
        np.testing.assert_array_equal(dataset.images[i], rgb)
        assert dataset.labels[i] == item['gt_label']
    assert dataset.get_gt_labels().tolist() == dataset.labels.tolist()


def test_batches_and_single_items(folder, tmp_path):
    dataset = build(folder, tmp_path)
    batch = dataset.__getitems__([3, 0, 7])
    assert batch['inputs'].shape == (3, 3, 16, 16)
    assert batch['inputs'].dtype == torch.uint8
    assert batch['gt_label'].tolist() == dataset.labels[[3, 0, 7]].tolist()
    assert torch.equal(batch['inputs'][1],
                       torch.from_numpy(np.array(dataset.images[0])).permute(
                           2, 0, 1))
    assert cached_image_collate(batch) is batch
    # single items as PackInputs packs them, for tools that index datasets
    items = [dataset[i] for i in (3, 0, 7)]
    assert [int(item['data_samples'].gt_label) for item in items] == \
        batch['gt_label'].tolist()
    collated = cached_image_collate(items)
    preprocess = MODELS.build(dict(type='BatchTransformPreprocessor',
                                   mean=[0.] * 3, std=[1.] * 3))
    from_items = preprocess(collated, training=False)
    from_batch = preprocess(batch, training=False)
    assert torch.equal(from_items['inputs'], from_batch['inputs'])
    assert [int(s.gt_label) for s in from_items['data_samples']] == \
        [int(s.gt_label) for s in from_batch['data_samples']]


def test_loader_with_sampler_and_class_balanced_subset(folder, tmp_path):
    subset = DATASETS.build(dict(
        type='ClassBalancedSubset', per_class=2, seed=0,
        dataset=dict(type='CachedImageDataset', data_root=folder,
                     cache_dir=str(tmp_path / 'cache'))))
    loader = torch.utils.data.DataLoader(subset, batch_size=4,
                                         collate_fn=cached_image_collate)
    batches = list(loader)
    assert [len(b['gt_label']) for b in batches] == [4, 2]
    labels = torch.cat([b['gt_label'] for b in batches])
    assert labels.tolist() == subset.get_gt_labels().tolist()


def test_second_use_reads_the_cache(folder, tmp_path, monkeypatch):
    first = build(folder, tmp_path)

    def no_decoding(*args):
        raise AssertionError('decoded again')

    monkeypatch.setattr(cached_images, 'decode_images', no_decoding)
    again = build(folder, tmp_path)
    assert again.cache_path == first.cache_path
    np.testing.assert_array_equal(again.images, first.images)
    assert isinstance(again.images, np.memmap)


def test_a_changed_source_is_decoded_again(folder, tmp_path):
    first = build(folder, tmp_path)
    path = osp.join(folder, 'train', 'class_1', 'img_2.png')
    Image.new('RGB', (16, 16), (1, 2, 3)).save(path)
    changed = build(folder, tmp_path)
    assert changed.cache_path != first.cache_path
    index = sorted(os.listdir(osp.dirname(path))).index('img_2.png') + 4
    assert (changed.images[index] == (1, 2, 3)).all()
    os.remove(path)
    assert len(build(folder, tmp_path)) == 11


def test_a_failed_build_leaves_no_cache(folder, tmp_path, monkeypatch):
    def broken(paths, out_file, threads):
        np.save(out_file, np.zeros((1, 2, 2, 3), np.uint8))
        raise KeyboardInterrupt

    monkeypatch.setattr(cached_images, 'decode_images', broken)
    with pytest.raises(KeyboardInterrupt):
        build(folder, tmp_path)
    assert [n for n in os.listdir(tmp_path / 'cache')
            if not n.endswith('.lock')] == []


def test_concurrent_builders_decode_once_and_share(folder, tmp_path,
                                                  monkeypatch):
    """Two builders at once (threads: each opens the lock file itself, as
    processes do): one decodes, the other waits and reads its cache."""
    decode, calls = cached_images.decode_images, []

    def slow(*args):
        calls.append(1)
        time.sleep(0.5)
        return decode(*args)

    monkeypatch.setattr(cached_images, 'decode_images', slow)
    with ThreadPoolExecutor(2) as pool:
        datasets = list(pool.map(lambda _: build(folder, tmp_path), range(2)))
    assert len(calls) == 1
    assert datasets[0].cache_path == datasets[1].cache_path
    np.testing.assert_array_equal(datasets[0].images, datasets[1].images)


def test_pickled_for_spawned_workers_without_the_images(folder, tmp_path):
    dataset = build(folder, tmp_path)
    state = pickle.dumps(dataset)
    assert len(state) < 2000  # 12 images of 768 bytes are not in it
    clone = pickle.loads(state)
    np.testing.assert_array_equal(clone.images, dataset.images)


@pytest.mark.parametrize('variant', ['cifar10', 'cifar100'])
def test_cifar_layouts(tmp_path, variant):
    """Item for item what CheckedCIFAR10/100 gives (the files are checked
    as that class checks them)."""
    root = str(tmp_path / variant)
    written = write_random_cifar(root, variant)
    checked = DATASETS.get(f'Checked{variant.upper()}')
    for split in ('train', 'test'):
        dataset = build(root, tmp_path, layout=variant, split=split)
        reference = checked(data_root=root, split=split)
        assert len(dataset) == len(reference) == len(written[split][0])
        for i in range(len(dataset)):
            np.testing.assert_array_equal(
                dataset.images[i], reference.get_data_info(i)['img'])
            assert dataset.labels[i] == reference.get_data_info(i)[
                'gt_label']
        assert dataset.metainfo['classes'] == reference.metainfo['classes']
    listed = osp.join(root, checked.base_folder, 'MD5SUMS')
    os.remove(listed)  # a copy whose files are not the official ones
    with pytest.raises(ValueError, match='has md5 .* expected'):
        build(root, tmp_path / 'other', layout=variant)


def test_tiny_imagenet_layout(tmp_path):
    root = write_tiny_imagenet(tmp_path / 'tiny-imagenet-200')
    dataset = build(str(root), tmp_path, layout='tiny-imagenet')
    assert dataset.images.shape == (200, 64, 64, 3)
    assert len(dataset.metainfo['classes']) == 200
    # the k-th wnid's image is (k, 0, 0) red; label = its sorted position
    wnid_of = dict(enumerate(dataset.metainfo['classes']))
    from test_tiny_imagenet import WNIDS
    reds = dataset.images[:, 0, 0, 0].astype(int)
    expected = [WNIDS.index(wnid_of[label]) for label in dataset.labels]
    assert np.abs(reds - expected).max() <= 2  # JPEG
    val = build(str(root), tmp_path, layout='tiny-imagenet', split='val')
    assert len(val) == 3


def test_errors_name_the_problem(folder, tmp_path):
    with pytest.raises(FileNotFoundError, match='not a folder'):
        build(str(tmp_path / 'nowhere'), tmp_path)
    with pytest.raises(FileNotFoundError, match=r'data/val not found'):
        build(folder, tmp_path, split='val')
    with pytest.raises(ValueError, match='unknown layout'):
        build(folder, tmp_path, layout='coco')
    shutil.rmtree(osp.join(folder, 'test', 'class_1'))
    with pytest.raises(ValueError, match=r"missing \['class_1'\]"):
        build(folder, tmp_path, split='test')
    for name in os.listdir(osp.join(folder, 'train', 'class_2')):
        os.remove(osp.join(folder, 'train', 'class_2', name))
    with pytest.raises(ValueError, match=r"without images: \['class_2'\]"):
        build(folder, tmp_path)
    write_image_folder(osp.join(folder, 'train'))
    odd = osp.join(folder, 'train', 'class_0', 'img_3.png')
    Image.new('RGB', (8, 16)).save(odd)
    with pytest.raises(ValueError, match=f'{odd} is 8x16 but'):
        build(folder, tmp_path)
    with open(odd, 'wb') as f:
        f.write(b'not an image')
    with pytest.raises(ValueError, match=f'corrupted image file {odd}'):
        build(folder, tmp_path)


def test_a_damaged_cache_is_named(folder, tmp_path):
    dataset = build(folder, tmp_path)
    np.save(osp.join(dataset.cache_path, 'labels.npy'),
            np.zeros(5, np.int64))
    with pytest.raises(ValueError, match='damaged dataset cache.*delete'):
        build(folder, tmp_path)
