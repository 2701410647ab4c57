"""Labeled / unlabeled view of a classification dataset for semi-supervised
training: FixMatch (Sohn et al., NeurIPS 2020), DMixMatch, Self-Tuning (Wang
et al., ICML 2021) and DMixTuning.

Batching design: one dataset item is one labeled sample (``V`` views, 1 for
FixMatch, 2 for Self-Tuning) plus ``mu`` unlabeled samples, each as a weak and
a strong view. mmengine's samplers then draw items as usual, and
:func:`semi_supervised_collate` lays a batch of ``B`` items out as one flat
batch of ``B * (V + 2 * mu)`` images::

    [labeled view 1 (B) | ... | labeled view V (B) |
     unlabeled weak (B * mu) | unlabeled strong (B * mu)]

with the ``B`` labeled data samples, so the stock ``ClsDataPreprocessor``
normalises all views in one go and the classifier splits them again with
:func:`split_semi_supervised_batch`. The first unlabeled sample of item ``i``
is weak view ``i * mu``: the fixed partner of labeled sample ``i`` in
DMixMatch's and DMixTuning's labeled-unlabeled mixup.
"""
import copy
import json
import os
import os.path as osp
from typing import List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.dataset import Compose
from mmengine.registry import FUNCTIONS
from mmpretrain.registry import DATASETS, TRANSFORMS
from torch.utils.data import Dataset

from dm_plugin.validation import check_choice, check_int, check_number

UNKNOWN_LABEL = -1
UNLABELED_POOLS = ('rest', 'all')


def build_pipeline(pipeline: Sequence, name: str) -> Compose:
    """Compose a list of transform configs (or transforms)."""
    if isinstance(pipeline, (str, dict)) or not isinstance(pipeline, Sequence):
        raise TypeError(f'{name} must be a list of transforms, got '
                        f'{type(pipeline).__name__}')
    return Compose([
        TRANSFORMS.build(t) if isinstance(t, dict) else t for t in pipeline
    ])


def dataset_labels(dataset) -> np.ndarray:
    """(N,) int class index of every sample of a classification dataset."""
    if hasattr(dataset, 'get_gt_labels'):
        labels = dataset.get_gt_labels()
    else:
        labels = [dataset.get_data_info(i)['gt_label']
                  for i in range(len(dataset))]
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError('SemiSupervisedDataset needs single-label class '
                         f'indices, got labels of shape {labels.shape} and '
                         f'dtype {labels.dtype}')
    return labels.astype(np.int64)


def draw_labeled_split(labels: np.ndarray,
                       labeled_per_class: Optional[int],
                       labeled_ratio: Optional[float],
                       seed: int) -> np.ndarray:
    """Sorted indices of a class-balanced labeled subset.

    Each class ``c`` of ``n_c`` samples keeps ``labeled_per_class`` of them,
    or ``max(1, round(labeled_ratio * n_c))``, drawn without replacement by a
    generator seeded with ``seed`` (so the split depends on the seed alone).
    """
    rng = np.random.default_rng(seed)
    chosen = []
    for cls in np.unique(labels):
        members = np.flatnonzero(labels == cls)
        if labeled_per_class is not None:
            num = labeled_per_class
        else:
            num = max(1, int(np.floor(labeled_ratio * members.size + 0.5)))
        if num > members.size:
            raise ValueError(
                f'labeled_per_class={num} but class {cls} has only '
                f'{members.size} samples')
        chosen.append(rng.choice(members, size=num, replace=False))
    return np.sort(np.concatenate(chosen))


@DATASETS.register_module()
class SemiSupervisedDataset(Dataset):
    """A class-balanced labeled subset of a classification dataset, with the
    rest (or everything) as unlabeled data, for semi-supervised training.

    Papers: Sohn et al., "FixMatch", NeurIPS 2020; Wang et al.,
    "Self-Tuning for Data-Efficient Deep Learning", ICML 2021; Liu, Li et
    al., "Harnessing Hard Mixed Samples with Decoupled Regularizer", NeurIPS
    2023.

    Item ``i`` holds the labeled sample ``i mod L`` (``L`` labeled samples)
    through ``weak_pipeline`` ``labeled_views`` times, and the ``mu``
    unlabeled samples of chunk ``i`` through ``weak_pipeline`` and
    ``strong_pipeline``. The unlabeled samples are shuffled once (seeded by
    ``split_seed``) and cut into ``ceil(U / mu)`` chunks (the last one wraps
    around), so one pass over the items shows every unlabeled sample once
    (an epoch, as OpenMixup counts it); the sampler shuffles the chunks.
    True labels of unlabeled samples travel in the labeled data sample as
    ``unlabeled_gt_label`` (``-1`` where unknown), for logging pseudo-label
    accuracy only.

    The labeled indices are written to ``split_file`` (JSON) when it does not
    exist and read from it when it does, so a split can be shared between
    runs (FixMatch and FixMatch + DM train on the same labels) and survives
    changes of the drawing code.

    Args:
        dataset (dict | Dataset): The classification dataset (config or
            instance), with a pipeline that loads the image (e.g.
            ``[dict(type='LoadImageFromFile')]``; empty for in-memory sets).
        weak_pipeline (list[dict]): Weak augmentation ending in
            ``PackInputs``; used for labeled samples and unlabeled weak views.
        strong_pipeline (list[dict]): Strong augmentation (FixMatch's
            RandAugment and Cutout) ending in ``PackInputs``; Self-Tuning
            takes two views from the same (weak) pipeline.
        labeled_per_class (int, optional): Labeled samples per class (e.g. 25
            for CIFAR-10 with 250 labels).
        labeled_ratio (float, optional): Fraction of each class that is
            labeled, in (0, 1) (fine-grained 15/30/50% splits). Give exactly
            one of ``labeled_per_class`` and ``labeled_ratio``.
        mu (int): Unlabeled samples per labeled sample. Defaults to 7.
        split_seed (int): Seed of the labeled subset and of the unlabeled
            chunks. Defaults to 0.
        split_file (str, optional): JSON file of the split, written if
            missing and read if present. ``None`` keeps the seeded split in
            memory only.
        labeled_views (int): Views of each labeled sample (1 for FixMatch
            and DMixMatch, 2 for Self-Tuning's query and key). Defaults to 1.
        unlabeled_pool (str): ``'rest'``: the unlabeled data are the samples
            not labeled; ``'all'``: every sample, labeled ones included (what
            FixMatch's and OpenMixup's CIFAR code train on). Defaults to
            ``'rest'``.
    """

    def __init__(self,
                 dataset: Union[dict, Dataset],
                 weak_pipeline: Sequence,
                 strong_pipeline: Sequence,
                 labeled_per_class: Optional[int] = None,
                 labeled_ratio: Optional[float] = None,
                 mu: int = 7,
                 split_seed: int = 0,
                 split_file: Optional[str] = None,
                 labeled_views: int = 1,
                 unlabeled_pool: str = 'rest'):
        if (labeled_per_class is None) == (labeled_ratio is None):
            raise ValueError('give exactly one of labeled_per_class and '
                             'labeled_ratio')
        if labeled_per_class is not None:
            check_int('labeled_per_class', labeled_per_class, 1)
        else:
            check_number('labeled_ratio', labeled_ratio, low=0., high=1.)
            if labeled_ratio == 1:
                raise ValueError('labeled_ratio must be < 1 to leave '
                                 'unlabeled samples')
        check_int('mu', mu, 1)
        check_int('split_seed', split_seed, 0)
        check_int('labeled_views', labeled_views, 1)
        check_choice('unlabeled_pool', unlabeled_pool, UNLABELED_POOLS)
        self.dataset = DATASETS.build(dataset) if isinstance(dataset,
                                                             dict) else dataset
        self.weak_pipeline = build_pipeline(weak_pipeline, 'weak_pipeline')
        self.strong_pipeline = build_pipeline(strong_pipeline,
                                              'strong_pipeline')
        self.labeled_per_class = labeled_per_class
        self.labeled_ratio = labeled_ratio
        self.mu = mu
        self.split_seed = split_seed
        self.split_file = split_file
        self.labeled_views = labeled_views
        self.unlabeled_pool = unlabeled_pool

        labels = dataset_labels(self.dataset)
        self.labeled_indices = self._load_or_draw_split(labels)
        unlabeled = np.arange(labels.size)
        if unlabeled_pool == 'rest':
            unlabeled = np.setdiff1d(unlabeled, self.labeled_indices)
        if unlabeled.size == 0:
            raise ValueError('every sample is labeled: no unlabeled data left')
        chunk_rng = np.random.default_rng([split_seed, 1])
        self.unlabeled_indices = chunk_rng.permutation(unlabeled)

    @property
    def metainfo(self) -> dict:
        return copy.deepcopy(self.dataset.metainfo)

    def split_settings(self) -> dict:
        """What a split file must agree on with this dataset."""
        return dict(
            num_samples=len(self.dataset),
            labeled_per_class=self.labeled_per_class,
            labeled_ratio=self.labeled_ratio,
            split_seed=self.split_seed)

    def _load_or_draw_split(self, labels: np.ndarray) -> np.ndarray:
        if self.split_file and osp.isfile(self.split_file):
            return self._load_split()
        indices = draw_labeled_split(labels, self.labeled_per_class,
                                     self.labeled_ratio, self.split_seed)
        if self.split_file:
            self._save_split(indices)
        return indices

    def _load_split(self) -> np.ndarray:
        with open(self.split_file) as f:
            record = json.load(f)
        for key, value in self.split_settings().items():
            if record.get(key) != value:
                raise ValueError(
                    f'split_file {self.split_file} has {key}='
                    f'{record.get(key)!r} but this dataset asks for '
                    f'{value!r}; point split_file elsewhere or delete it')
        indices = np.asarray(record.get('labeled_indices', []), dtype=np.int64)
        if indices.size == 0 or np.unique(indices).size != indices.size or \
                indices.min() < 0 or indices.max() >= len(self.dataset):
            raise ValueError(f'split_file {self.split_file} holds invalid '
                             'labeled_indices (empty, repeated or out of '
                             'range)')
        return np.sort(indices)

    def _save_split(self, indices: np.ndarray) -> None:
        """Write the split atomically (concurrent ranks write the same)."""
        record = dict(self.split_settings(),
                      labeled_indices=[int(i) for i in indices])
        os.makedirs(osp.dirname(osp.abspath(self.split_file)), exist_ok=True)
        partial = f'{self.split_file}.{os.getpid()}.tmp'
        with open(partial, 'w') as f:
            json.dump(record, f)
        os.replace(partial, self.split_file)

    def __len__(self) -> int:
        return -(-self.unlabeled_indices.size // self.mu)

    def chunk(self, index: int) -> np.ndarray:
        """The ``mu`` unlabeled dataset indices of item ``index``."""
        positions = (index * self.mu + np.arange(self.mu)) % \
            self.unlabeled_indices.size
        return self.unlabeled_indices[positions]

    def labeled_index(self, index: int) -> int:
        """The labeled dataset index of item ``index``."""
        return int(self.labeled_indices[index % self.labeled_indices.size])

    def __getitem__(self, index: int) -> dict:
        if not 0 <= index < len(self):
            raise IndexError(f'index {index} out of range for '
                             f'{len(self)} items')
        loaded = self.dataset[self.labeled_index(index)]
        labeled = [
            self.weak_pipeline(copy.deepcopy(loaded))
            for _ in range(self.labeled_views)
        ]
        weak_inputs, strong_inputs, true_labels = [], [], []
        for unlabeled_index in self.chunk(index):
            loaded = self.dataset[int(unlabeled_index)]
            weak = self.weak_pipeline(copy.deepcopy(loaded))
            strong = self.strong_pipeline(loaded)
            weak_inputs.append(weak['inputs'])
            strong_inputs.append(strong['inputs'])
            sample = weak['data_samples']
            true_labels.append(
                int(sample.gt_label) if 'gt_label' in sample
                else UNKNOWN_LABEL)
        data_sample = labeled[0]['data_samples']
        data_sample.set_field(
            torch.tensor(true_labels), 'unlabeled_gt_label')
        return dict(
            labeled_inputs=[view['inputs'] for view in labeled],
            data_samples=data_sample,
            weak_inputs=weak_inputs,
            strong_inputs=strong_inputs)


@FUNCTIONS.register_module()
def semi_supervised_collate(data_batch: List[dict]) -> dict:
    """Collate :class:`SemiSupervisedDataset` items into one flat batch.

    Returns ``dict(inputs, data_samples)``: ``inputs`` holds the ``B``
    labeled samples' first views, then their second views (if any), ..., then
    the ``B * mu`` unlabeled weak views, then the ``B * mu`` strong views in
    the same order (stacked into one (B(V+2mu), C, H, W) tensor when all
    views share a shape, else a list); ``data_samples`` are the ``B`` labeled
    samples. Use it as the train dataloader's
    ``collate_fn=dict(type='semi_supervised_collate')``.
    """
    if not data_batch or not all(
            isinstance(item, dict) and 'weak_inputs' in item
            for item in data_batch):
        raise TypeError('semi_supervised_collate collates items of '
                        'SemiSupervisedDataset (dicts with labeled_inputs, '
                        'weak_inputs and strong_inputs)')
    num_views = {len(item['labeled_inputs']) for item in data_batch}
    if len(num_views) != 1:
        raise ValueError('items of one batch hold different numbers of '
                         f'labeled views: {sorted(num_views)}')
    inputs = [
        item['labeled_inputs'][view] for view in range(num_views.pop())
        for item in data_batch
    ]
    inputs += [view for item in data_batch for view in item['weak_inputs']]
    inputs += [view for item in data_batch for view in item['strong_inputs']]
    if len({tuple(view.shape) for view in inputs}) == 1:
        inputs = torch.stack(inputs)
    return dict(
        inputs=inputs,
        data_samples=[item['data_samples'] for item in data_batch])


def split_semi_supervised_batch(inputs: torch.Tensor, num_labeled: int,
                                labeled_views: int = 1) -> tuple:
    """Undo :func:`semi_supervised_collate` on a preprocessed batch.

    Args:
        inputs (Tensor): (B * (V + 2 * mu), C, H, W) images.
        num_labeled (int): ``B``, the number of labeled data samples.
        labeled_views (int): ``V``, views of each labeled sample.

    Returns:
        tuple: a list of ``V`` (B, C, H, W) labeled views, then the
        (B * mu, C, H, W) unlabeled weak and strong views.
    """
    unlabeled = inputs.size(0) - num_labeled * labeled_views
    if num_labeled == 0 or unlabeled <= 0 or unlabeled % (2 * num_labeled):
        raise ValueError(
            f'got {inputs.size(0)} images for {num_labeled} labeled samples '
            f'with {labeled_views} view(s) each; expected B * (V + 2 * mu) '
            'images laid out by semi_supervised_collate (train with '
            f'SemiSupervisedDataset(labeled_views={labeled_views}) and '
            "collate_fn=dict(type='semi_supervised_collate'))")
    sizes = [num_labeled] * labeled_views + [unlabeled // 2] * 2
    *labeled, weak, strong = inputs.split(sizes)
    return labeled, weak, strong


def item_partners(num_labeled: int, num_unlabeled: int,
                  device: torch.device) -> torch.Tensor:
    """(B,) index of the first unlabeled view of each item in a collated
    batch: ``i * mu``, the fixed unlabeled partner of labeled sample ``i``."""
    return torch.arange(num_labeled, device=device) * (
        num_unlabeled // num_labeled)
