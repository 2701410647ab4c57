"""Small helpers shared by heads and classifiers."""
from typing import List

import torch
from mmpretrain.structures import DataSample


def stack_targets(data_samples: List[DataSample]) -> torch.Tensor:
    """(N, K) ``gt_score`` of the samples when set (mixed or soft labels),
    else their (N,) ``gt_label`` class indices."""
    if 'gt_score' in data_samples[0]:
        return torch.stack([sample.gt_score for sample in data_samples])
    return torch.cat([sample.gt_label for sample in data_samples])


def attach_scores(data_samples: List[DataSample],
                  scores: torch.Tensor) -> None:
    """Set row ``i`` of (N, K) ``scores`` as ``gt_score`` of sample ``i``."""
    for sample, score in zip(data_samples, scores):
        sample.set_gt_score(score)
