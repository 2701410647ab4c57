import json
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.registry import FUNCTIONS
from mmpretrain.registry import DATASETS

from dm_plugin.datasets.semi_supervised import (draw_labeled_split,
                                                item_partners,
                                                semi_supervised_collate,
                                                split_semi_supervised_batch)
from conftest import write_image_folder

NUM_CLASSES, PER_CLASS = 3, 10
WEAK = [dict(type='PackInputs')]
STRONG = [dict(type='Cutout', shape=4, pad_val=0, prob=1.0),
          dict(type='PackInputs')]


@pytest.fixture
def folder(tmp_path):
    return write_image_folder(
        str(tmp_path / 'data'), num_classes=NUM_CLASSES, per_class=PER_CLASS,
        size=(8, 8))


def make(folder, weak=WEAK, strong=STRONG, **kwargs):
    if 'labeled_ratio' not in kwargs:
        kwargs.setdefault('labeled_per_class', 2)
    kwargs.setdefault('mu', 3)
    return DATASETS.build(
        dict(type='SemiSupervisedDataset',
             dataset=dict(type='CustomDataset', data_root=folder,
                          pipeline=[dict(type='LoadImageFromFile')]),
             weak_pipeline=weak,
             strong_pipeline=strong,
             **kwargs))


def test_split_is_class_balanced_and_partitions_the_data(folder):
    dataset = make(folder, labeled_per_class=2)
    labels = dataset.dataset.get_gt_labels()
    counts = np.bincount(labels[dataset.labeled_indices], minlength=3)
    assert counts.tolist() == [2, 2, 2]
    labeled, unlabeled = set(dataset.labeled_indices), set(
        dataset.unlabeled_indices)
    assert not labeled & unlabeled
    assert labeled | unlabeled == set(range(NUM_CLASSES * PER_CLASS))
    assert len(dataset.unlabeled_indices) == len(unlabeled)


def test_ratio_split_per_class(folder):
    dataset = make(folder, labeled_ratio=0.3)
    labels = dataset.dataset.get_gt_labels()
    assert np.bincount(labels[dataset.labeled_indices]).tolist() == [3, 3, 3]


def test_ratio_keeps_at_least_one_per_class():
    labels = np.array([0] * 5 + [1] * 40)
    chosen = draw_labeled_split(labels, None, 0.05, seed=0)
    assert np.bincount(labels[chosen]).tolist() == [1, 2]


def test_split_depends_on_seed_only(folder):
    first = make(folder, split_seed=3).labeled_indices
    again = make(folder, split_seed=3).labeled_indices
    other = make(folder, split_seed=4).labeled_indices
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_split_file_is_written_and_read_back(folder, tmp_path):
    split_file = str(tmp_path / 'splits' / 'split.json')
    dataset = make(folder, split_file=split_file)
    with open(split_file) as f:
        record = json.load(f)
    assert record['labeled_indices'] == dataset.labeled_indices.tolist()
    assert record['num_samples'] == 30 and record['labeled_per_class'] == 2

    # The file wins over the seed: a hand-edited (valid) split is used.
    record['labeled_indices'] = [0, 1, 10, 11, 20, 21]
    with open(split_file, 'w') as f:
        json.dump(record, f)
    reloaded = make(folder, split_file=split_file)
    assert reloaded.labeled_indices.tolist() == [0, 1, 10, 11, 20, 21]


@pytest.mark.parametrize('change, message', [
    (dict(labeled_per_class=3), 'labeled_per_class=2'),
    (dict(split_seed=1), 'split_seed=0'),
])
def test_split_file_with_other_settings_is_refused(folder, tmp_path, change,
                                                   message):
    split_file = str(tmp_path / 'split.json')
    make(folder, split_file=split_file)
    with pytest.raises(ValueError, match=message):
        make(folder, split_file=split_file, **change)


def test_corrupt_split_file_is_refused(folder, tmp_path):
    split_file = str(tmp_path / 'split.json')
    make(folder, split_file=split_file)
    with open(split_file) as f:
        record = json.load(f)
    record['labeled_indices'] = [0, 0, 99]
    with open(split_file, 'w') as f:
        json.dump(record, f)
    with pytest.raises(ValueError, match='invalid labeled_indices'):
        make(folder, split_file=split_file)


@pytest.mark.parametrize('kwargs, error, message', [
    (dict(labeled_per_class=None), ValueError, 'exactly one'),
    (dict(labeled_per_class=2, labeled_ratio=0.1), ValueError,
     'exactly one'),
    (dict(labeled_per_class=11), ValueError, 'only 10 samples'),
    (dict(labeled_per_class=10), ValueError, 'no unlabeled data'),
    (dict(labeled_per_class=2.0), TypeError, 'labeled_per_class'),
    (dict(mu=0), ValueError, 'mu'),
    (dict(split_seed=-1), ValueError, 'split_seed'),
    (dict(labeled_views=0), ValueError, 'labeled_views'),
    (dict(unlabeled_pool='none'), ValueError, 'unlabeled_pool'),
])
def test_bad_arguments(folder, kwargs, error, message):
    args = dict(labeled_per_class=2)
    args.update(kwargs)
    with pytest.raises(error, match=message):
        DATASETS.build(
            dict(type='SemiSupervisedDataset',
                 dataset=dict(type='CustomDataset', data_root=folder,
                              pipeline=[dict(type='LoadImageFromFile')]),
                 weak_pipeline=WEAK, strong_pipeline=STRONG, **args))


def test_bad_ratio(folder):
    with pytest.raises(ValueError, match='labeled_ratio'):
        make(folder, labeled_ratio=1.0)


def test_items_cover_unlabeled_data_in_chunks_of_mu(folder):
    dataset = make(folder, labeled_per_class=2, mu=5)  # 24 unlabeled
    assert len(dataset) == 5  # ceil(24 / 5)
    seen = np.concatenate([dataset.chunk(i) for i in range(len(dataset))])
    assert len(seen) == 25
    assert set(seen) == set(dataset.unlabeled_indices)
    assert [dataset.labeled_index(i) for i in range(len(dataset))] == \
        dataset.labeled_indices[np.arange(5) % 6].tolist()


def test_item_views(folder):
    dataset = make(folder, mu=3)
    item = dataset[1]
    assert set(item) == {'labeled_inputs', 'data_samples', 'weak_inputs',
                         'strong_inputs'}
    assert len(item['labeled_inputs']) == 1
    assert len(item['weak_inputs']) == len(item['strong_inputs']) == 3
    labels = dataset.dataset.get_gt_labels()
    chunk = dataset.chunk(1)
    sample = item['data_samples']
    assert int(sample.gt_label) == labels[dataset.labeled_index(1)]
    assert sample.unlabeled_gt_label.tolist() == labels[chunk].tolist()
    for index, weak, strong in zip(chunk, item['weak_inputs'],
                                   item['strong_inputs']):
        raw = dataset.dataset[int(index)]['img']
        # The weak view is the image itself here; the strong one has a
        # 4x4 cutout and is otherwise the same image.
        np.testing.assert_array_equal(weak.permute(1, 2, 0).numpy(), raw)
        differs = (weak != strong).any(dim=0)
        assert 0 < differs.sum() <= 16
        assert (strong[:, differs] == 0).all()


def test_labeled_views_are_separate_draws_of_the_weak_pipeline(folder):
    """Self-Tuning's query and key views of a labeled image."""
    weak = [dict(type='Cutout', shape=3, pad_val=0, prob=1.0),
            dict(type='PackInputs')]
    dataset = make(folder, weak=weak, labeled_views=2, mu=1)
    np.random.seed(0)
    first, second = dataset[0]['labeled_inputs']
    raw = torch.from_numpy(
        dataset.dataset[dataset.labeled_index(0)]['img']).permute(2, 0, 1)
    for view in (first, second):
        assert 0 < (view != raw).any(dim=0).sum() <= 9
    assert not torch.equal(first, second)


def test_unlabeled_pool_all_includes_the_labeled_samples(folder):
    dataset = make(folder, labeled_per_class=2, unlabeled_pool='all', mu=4)
    assert sorted(dataset.unlabeled_indices) == list(range(30))
    assert set(dataset.labeled_indices) <= set(dataset.unlabeled_indices)
    assert len(dataset) == 8  # ceil(30 / 4)


def test_weak_and_strong_views_differ_with_fixmatch_augmentations(tmp_path):
    from mmengine.config import Config
    cfg = Config.fromfile(
        osp.join(osp.dirname(__file__), '..', '..', 'configs', 'semisup',
                 '_base_', 'cifar10_semisup.py'))
    folder = write_image_folder(str(tmp_path / 'cifar'), size=(32, 32))
    dataset = make(folder, weak=cfg.weak_pipeline, strong=cfg.strong_pipeline,
                   labeled_per_class=1, mu=3)
    np.random.seed(0)
    item = dataset[0]
    assert item['labeled_inputs'][0].shape == (3, 32, 32)
    for weak, strong in zip(item['weak_inputs'], item['strong_inputs']):
        assert weak.shape == strong.shape == (3, 32, 32)
        assert not torch.equal(weak, strong)


@pytest.mark.parametrize('views', [1, 2])
def test_collate_lays_out_labeled_weak_strong_and_splits_back(folder, views):
    dataset = make(folder, mu=3, labeled_views=views)
    items = [dataset[i] for i in range(2)]
    batch = FUNCTIONS.get('semi_supervised_collate')(items)
    inputs = batch['inputs']
    assert inputs.shape == (2 * (views + 2 * 3), 3, 8, 8)
    assert inputs.dtype == torch.uint8
    assert batch['data_samples'] == [item['data_samples'] for item in items]
    expected = [item['labeled_inputs'][v] for v in range(views)
                for item in items]
    expected += [v for item in items for v in item['weak_inputs']]
    expected += [v for item in items for v in item['strong_inputs']]
    torch.testing.assert_close(inputs, torch.stack(expected))

    labeled, weak, strong = split_semi_supervised_batch(inputs, 2, views)
    assert len(labeled) == views
    for v in range(views):
        torch.testing.assert_close(
            labeled[v], torch.stack([item['labeled_inputs'][v]
                                     for item in items]))
    torch.testing.assert_close(
        weak, torch.stack([v for item in items for v in item['weak_inputs']]))
    torch.testing.assert_close(
        strong,
        torch.stack([v for item in items for v in item['strong_inputs']]))
    # The fixed partner of labeled sample i is the first unlabeled sample
    # of its own item.
    partners = item_partners(2, weak.size(0), weak.device)
    assert partners.tolist() == [0, 3]
    for i, item in enumerate(items):
        torch.testing.assert_close(weak[partners[i]], item['weak_inputs'][0])


@pytest.mark.parametrize('size, labeled, views', [
    (2 + 2 * 6, 2, 2),  # a FixMatch-style batch read as Self-Tuning's
    (2 * (2 + 2 * 3), 2, 1),  # a Self-Tuning batch read as FixMatch's
    (5, 0, 1),
])
def test_split_refuses_another_layout(size, labeled, views):
    with pytest.raises(ValueError, match='semi_supervised_collate'):
        split_semi_supervised_batch(torch.zeros(size, 3, 4, 4), labeled, views)


def test_collate_refuses_items_with_different_view_counts(folder):
    items = [make(folder, mu=1)[0], make(folder, mu=1, labeled_views=2)[0]]
    with pytest.raises(ValueError, match='labeled views'):
        semi_supervised_collate(items)


def test_collate_keeps_a_list_for_mixed_shapes(folder):
    item = make(folder, mu=1)[0]
    item['strong_inputs'] = [torch.zeros(3, 4, 4, dtype=torch.uint8)]
    batch = semi_supervised_collate([item])
    assert isinstance(batch['inputs'], list) and len(batch['inputs']) == 3


def test_collate_refuses_plain_items():
    with pytest.raises(TypeError, match='SemiSupervisedDataset'):
        semi_supervised_collate([dict(inputs=torch.zeros(3, 4, 4))])


def test_metainfo_is_the_wrapped_datasets(folder):
    dataset = make(folder)
    assert dataset.metainfo['classes'] == ('class_0', 'class_1', 'class_2')
