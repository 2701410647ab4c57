"""Random crops, flips and normalisation of whole batches on the device."""
from collections.abc import Mapping
from numbers import Number
from typing import List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.dist import get_dist_info
from mmengine.model import BaseDataPreprocessor
from mmpretrain.models.utils.batch_augments import RandomBatchAugment
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from dm_plugin.validation import check_int
from .batch_transforms import build_batch_transform


@MODELS.register_module()
class BatchTransformPreprocessor(BaseDataPreprocessor):
    """A ``ClsDataPreprocessor`` that also runs the training pipeline's
    random crop / resized crop / flip, on the whole batch, on the device.

    With :class:`CachedImageDataset` the data loader only indexes a uint8
    array; the per-sample work of mmpretrain's pipeline (``RandomCrop``,
    ``RandomResizedCrop``, ``RandomFlip``) runs here, batched, with the
    distributions of the per-sample transforms (see
    :mod:`.batch_transforms`), then ``(x - mean) / std``. ``transforms`` are
    the pipeline entries themselves, so a config moves them here unchanged.
    They run in training only; evaluation batches are normalised only.

    Randomness: every parameter comes from ``torch.rand`` on the batch's
    device, i.e. torch's generator that ``randomness.seed`` seeds and that
    ``RandomStateHook`` saves and restores, so a resumed run draws the crops
    of the uninterrupted one. In distributed training each rank draws the
    parameters of all ranks' batches and uses its own share: the ranks'
    generators stay equal (as the mixers and the hook expect) while their
    samples get independent crops.

    Args:
        mean (Sequence[Number]): Per-channel mean (R, G, B), pixel units.
        std (Sequence[Number]): Per-channel standard deviation.
        transforms (list[dict]): Training-time transforms, mmpretrain
            pipeline entries of type ``RandomCrop``, ``RandomResizedCrop``
            or ``RandomFlip``; applied in order. Defaults to none.
        to_rgb (bool): Reverse the channel order, for batches of BGR images
            (mmpretrain's ``LoadImageFromFile``). :class:`CachedImageDataset`
            stores RGB. Defaults to False.
        num_classes (int, optional): Needed with ``batch_augments``.
        batch_augments (dict, optional): mmpretrain's batch augments
            (``RandomBatchAugment`` arguments), for a stock
            ``ImageClassifier`` with ``train_cfg.augments``.
        non_blocking (bool): Copy batches to the device without blocking
            (use with ``pin_memory=True`` in the data loader).

    Batches: ``dict(inputs=(B, 3, H, W) uint8, gt_label=(B,) int)`` from
    :func:`cached_image_collate`, or mmpretrain's ``dict(inputs=[(3, H, W),
    ...], data_samples=[DataSample, ...])`` of images of one size. Returns
    ``dict(inputs=(B, 3, h, w) float32, data_samples=[DataSample, ...])``.
    """

    def __init__(self,
                 mean: Sequence[Number],
                 std: Sequence[Number],
                 transforms: Sequence[dict] = (),
                 to_rgb: bool = False,
                 num_classes: Optional[int] = None,
                 batch_augments: Optional[dict] = None,
                 non_blocking: bool = False):
        super().__init__(non_blocking=non_blocking)
        if len(mean) != len(std):
            raise ValueError(f'mean has {len(mean)} channels, std '
                             f'{len(std)}')
        std = torch.tensor(std, dtype=torch.float32)
        if not torch.all(std > 0):
            raise ValueError(f'std must be positive, got {std.tolist()}')
        self.register_buffer('mean', torch.tensor(
            mean, dtype=torch.float32).view(1, -1, 1, 1), False)
        self.register_buffer('std', std.view(1, -1, 1, 1), False)
        if isinstance(transforms, dict):
            raise TypeError('transforms must be a list of transform dicts')
        self.transforms = [build_batch_transform(t) for t in transforms]
        self.to_rgb = to_rgb
        if num_classes is not None:
            check_int('num_classes', num_classes, 1)
        self.num_classes = num_classes
        self.batch_augments = None
        if batch_augments:
            if num_classes is None:
                raise ValueError('batch_augments need num_classes')
            self.batch_augments = RandomBatchAugment(**batch_augments)

    def uniform(self, batch_size: int, num: int,
                device: torch.device) -> torch.Tensor:
        """(batch_size, num) uniform numbers in [0, 1): this rank's share of
        a draw made for every rank."""
        rank, world_size = get_dist_info()
        return torch.rand((world_size, batch_size, num), device=device)[rank]

    def forward(self, data: dict, training: bool = False) -> dict:
        images, data_samples = self._unpack(data)
        if training:
            batch_size, device = len(images), images.device
            for transform in self.transforms:
                images = transform(
                    images,
                    lambda num: self.uniform(batch_size, num, device))
        if self.to_rgb:
            images = images.flip(1)
        images = (images.float().contiguous() - self.mean).div_(self.std)
        if training and self.batch_augments is not None:
            labels = torch.cat([sample.gt_label for sample in data_samples])
            scores = F.one_hot(labels, self.num_classes).float()
            images, scores = self.batch_augments(images, scores)
            for sample, score in zip(data_samples, scores):
                sample.set_gt_score(score)
        return dict(inputs=images, data_samples=data_samples)

    def _unpack(self, data) -> tuple:
        """(B, C, H, W) images on the device and their data samples."""
        if not isinstance(data, Mapping) or 'inputs' not in data:
            raise TypeError('BatchTransformPreprocessor expects a dict with '
                            f'inputs, got {type(data).__name__}')
        if 'gt_label' in data:  # CachedImageDataset
            data = self.cast_data(dict(data))
            images, labels = data['inputs'], data['gt_label']
            if not isinstance(images, torch.Tensor) or images.dim() != 4 or \
                    not isinstance(labels, torch.Tensor) or \
                    labels.shape != images.shape[:1]:
                raise ValueError(
                    'expected inputs (B, C, H, W) and gt_label (B,) tensors '
                    '(cached_image_collate), got '
                    f'{getattr(images, "shape", type(images))} and '
                    f'{getattr(labels, "shape", type(labels))}')
            return images, [
                DataSample(gt_label=label)
                for label in labels.long().view(-1, 1).unbind(0)
            ]
        images = data['inputs']
        data_samples: List[DataSample] = data.get('data_samples')
        if not isinstance(images, torch.Tensor):
            shapes = {tuple(image.shape) for image in images}
            if len(shapes) != 1:
                raise ValueError('images of one batch differ in size '
                                 f'({sorted(shapes)}); crop or resize them '
                                 'to one size in the pipeline first')
            images = torch.stack(list(images))
        if data_samples is None:
            raise ValueError('the batch has no data_samples (labels)')
        return self.cast_data(images), self.cast_data(data_samples)
