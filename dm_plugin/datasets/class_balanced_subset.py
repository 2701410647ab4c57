"""A seeded, class-balanced subset of any classification dataset."""
from typing import Union

from mmengine.dataset import BaseDataset
from mmpretrain.registry import DATASETS
from torch.utils.data import Dataset

from dm_plugin.validation import check_int
from .semi_supervised import dataset_labels, draw_labeled_split


@DATASETS.register_module()
class ClassBalancedSubset(Dataset):
    """``per_class`` samples of every class of ``dataset``, drawn without
    replacement by a generator seeded with ``seed`` (the same subset on
    every machine and run): the data-efficient regime in which DM is meant
    to help most (Liu, Li et al., NeurIPS 2023).

    Args:
        dataset (dict | Dataset): The full dataset (config or object).
        per_class (int): Samples kept per class.
        seed (int): Seed of the draw. Defaults to 0.

    Items are those of ``dataset``; ``metainfo`` is the dataset's.
    """

    def __init__(self, dataset: Union[dict, BaseDataset], per_class: int,
                 seed: int = 0):
        check_int('per_class', per_class, 1)
        check_int('seed', seed, 0)
        self.dataset = DATASETS.build(dataset) if isinstance(dataset,
                                                             dict) else dataset
        labels = dataset_labels(self.dataset)
        self.indices = draw_labeled_split(labels, per_class, None, seed)
        self.labels = labels[self.indices]

    @property
    def metainfo(self) -> dict:
        return self.dataset.metainfo

    def get_gt_labels(self):
        return self.labels

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> dict:
        return self.dataset[int(self.indices[index])]

    def __getitems__(self, indices):
        """A batch at once where ``dataset`` fetches batches at once
        (:class:`CachedImageDataset`), else the list of items."""
        indices = [int(self.indices[index]) for index in indices]
        getitems = getattr(self.dataset, '__getitems__', None)
        if getitems is not None:
            return getitems(indices)
        return [self.dataset[index] for index in indices]
