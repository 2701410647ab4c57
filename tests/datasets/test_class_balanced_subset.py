import numpy as np
import pytest
from mmpretrain.registry import DATASETS


def folder_dataset(root):
    return dict(type='CustomDataset', data_root=root,
                pipeline=[dict(type='LoadImageFromFile'),
                          dict(type='PackInputs')])


def test_balanced_seeded_and_items_come_from_the_dataset(image_folder):
    subset = DATASETS.build(dict(type='ClassBalancedSubset',
                                 dataset=folder_dataset(image_folder),
                                 per_class=2, seed=3))
    assert len(subset) == 6
    assert np.bincount(subset.get_gt_labels()).tolist() == [2, 2, 2]
    again = DATASETS.build(dict(type='ClassBalancedSubset',
                                dataset=folder_dataset(image_folder),
                                per_class=2, seed=3))
    assert subset.indices.tolist() == again.indices.tolist()
    item = subset[1]
    assert int(item['data_samples'].gt_label) == subset.get_gt_labels()[1]
    assert subset.metainfo['classes'] == ('class_0', 'class_1', 'class_2')


def test_bad_arguments_are_named(image_folder):
    with pytest.raises(ValueError, match='class 0 has only 4'):
        DATASETS.build(dict(type='ClassBalancedSubset',
                            dataset=folder_dataset(image_folder),
                            per_class=5))
    with pytest.raises(ValueError, match='per_class must be >= 1'):
        DATASETS.build(dict(type='ClassBalancedSubset',
                            dataset=folder_dataset(image_folder),
                            per_class=0))
