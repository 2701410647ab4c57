"""Expected calibration error (ECE) of a classifier's top-1 confidence.

Naeini et al. "Obtaining Well Calibrated Probabilities Using Bayesian
Binning", AAAI 2015; Guo et al. "On Calibration of Modern Neural Networks",
ICML 2017. The Decoupled Mixup paper (Liu, Li et al., NeurIPS 2023,
arXiv:2203.10761) compares the calibration of MCE- and DM-trained models
with it.

Each sample's confidence is its largest class probability, and it is correct
when that class is the label. With ``M`` equal-width bins
``B_m = ((m-1)/M, m/M]`` of confidence over ``n`` samples:

    ECE = sum_m |B_m| / n * |acc(B_m) - conf(B_m)|

where ``acc(B_m)`` and ``conf(B_m)`` are the accuracy and the mean confidence
of the samples in bin ``m``; empty bins contribute nothing.
"""
from typing import List, Sequence, Tuple

import torch
from mmengine.evaluator import BaseMetric
from mmpretrain.registry import METRICS


def check_n_bins(n_bins) -> None:
    """Raise naming ``n_bins`` unless it is a positive integer."""
    if isinstance(n_bins, bool) or not isinstance(n_bins, int):
        raise TypeError(f'n_bins must be an int, got {n_bins!r}')
    if n_bins < 1:
        raise ValueError(f'n_bins must be >= 1, got {n_bins}')


def top1_confidence(scores: torch.Tensor,
                    labels: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """The top-1 confidence of each sample and whether it is correct.

    Args:
        scores (Tensor): Class probabilities, (N, C), values in [0, 1]
            (softmax outputs; rows of sigmoid outputs need not sum to 1).
        labels (Tensor): Class indices, (N,), integer.

    Returns:
        tuple[Tensor, Tensor]: ``confidences`` (N,) float64 and ``correct``
        (N,) bool.
    """
    if not isinstance(scores, torch.Tensor) or \
            not scores.is_floating_point() or scores.dim() != 2:
        raise TypeError('scores must be a floating-point (N, C) tensor, got '
                        f'{getattr(scores, "shape", type(scores))}')
    if not isinstance(labels, torch.Tensor) or labels.dim() != 1 or \
            labels.is_floating_point():
        raise TypeError('labels must be an integer (N,) tensor, got '
                        f'{getattr(labels, "shape", type(labels))}')
    if scores.size(0) != labels.size(0):
        raise ValueError(f'shape mismatch: scores have {scores.size(0)} '
                         f'samples but labels have {labels.size(0)}')
    if scores.numel() == 0:
        raise ValueError('scores are empty: ECE needs at least one sample '
                         'and one class')
    if not bool(((scores >= 0) & (scores <= 1)).all()):
        raise ValueError('scores must be probabilities in [0, 1] (apply '
                         'softmax to logits first)')
    if bool(((labels < 0) | (labels >= scores.size(1))).any()):
        raise ValueError(f'labels must be class indices in [0, '
                         f'{scores.size(1)}), got {int(labels.min())}..'
                         f'{int(labels.max())}')
    confidences, predictions = scores.max(dim=1)
    return confidences.double(), predictions == labels


def calibration_bins(
        confidences: torch.Tensor,
        correct: torch.Tensor,
        n_bins: int = 15) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Sample count, mean confidence and accuracy of each confidence bin.

    Bin ``m`` (0-based) holds confidences in ``(m/M, (m+1)/M]``; the first bin
    also holds confidence 0.

    Args:
        confidences (Tensor): Top-1 confidences, (N,), values in [0, 1].
        correct (Tensor): Whether each top-1 prediction is right, (N,) bool.
        n_bins (int): Number ``M`` of equal-width bins. Defaults to 15.

    Returns:
        tuple[Tensor, Tensor, Tensor]: ``counts``, ``bin_confidence`` and
        ``bin_accuracy``, each (M,) float64; the means are 0 in empty bins.
    """
    check_n_bins(n_bins)
    if confidences.shape != correct.shape or confidences.dim() != 1:
        raise ValueError('confidences and correct must both be (N,), got '
                         f'{tuple(confidences.shape)} and '
                         f'{tuple(correct.shape)}')
    confidences = confidences.double()
    inner_edges = torch.arange(
        1, n_bins, dtype=torch.float64, device=confidences.device) / n_bins
    # right=False: bin index m satisfies edge[m-1] < confidence <= edge[m].
    index = torch.bucketize(confidences, inner_edges)
    zeros = confidences.new_zeros(n_bins)
    counts = zeros.index_add(0, index, torch.ones_like(confidences))
    confidence_sums = zeros.index_add(0, index, confidences)
    correct_sums = zeros.index_add(0, index, correct.double())
    occupied = counts.clamp(min=1)
    return counts, confidence_sums / occupied, correct_sums / occupied


def expected_calibration_error(confidences: torch.Tensor,
                               correct: torch.Tensor,
                               n_bins: int = 15) -> torch.Tensor:
    """ECE as a fraction in [0, 1] (0-dim float64 tensor).

    Args:
        confidences (Tensor): Top-1 confidences, (N,), values in [0, 1].
        correct (Tensor): Whether each top-1 prediction is right, (N,) bool.
        n_bins (int): Number of equal-width confidence bins. Defaults to 15.
    """
    if confidences.numel() == 0:
        raise ValueError('ECE needs at least one sample')
    counts, bin_confidence, bin_accuracy = calibration_bins(
        confidences, correct, n_bins)
    return (counts * (bin_accuracy - bin_confidence).abs()).sum() / \
        counts.sum()


@METRICS.register_module()
class ECE(BaseMetric):
    """Expected calibration error and top-1 accuracy, both in percent.

    Percent, like mmpretrain's ``Accuracy``: an ECE of ``2.5`` means 0.025.
    Reported as ``calibration/ece`` and ``calibration/top1`` (lower ECE is
    better: ``save_best='calibration/ece', rule='less'``). Each sample keeps
    only its top-1 confidence and correctness, so results gathered across
    ranks in distributed evaluation stay small.

    Args:
        n_bins (int): Number of equal-width confidence bins. Defaults to 15.
        collect_device (str): ``'cpu'`` or ``'gpu'``, where results of all
            ranks are gathered. Defaults to ``'cpu'``.
        prefix (str, optional): Metric name prefix. Defaults to
            ``'calibration'``.
        collect_dir (str, optional): Directory for gathering on CPU.

    Example:
        >>> val_evaluator = [dict(type='Accuracy', topk=(1, 5)),
        ...                  dict(type='ECE', n_bins=15)]
    """
    default_prefix = 'calibration'

    def __init__(self,
                 n_bins: int = 15,
                 collect_device: str = 'cpu',
                 prefix: str = None,
                 collect_dir: str = None) -> None:
        check_n_bins(n_bins)
        super().__init__(
            collect_device=collect_device,
            prefix=prefix,
            collect_dir=collect_dir)
        self.n_bins = n_bins

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Keep each sample's top-1 confidence and correctness.

        Args:
            data_batch: The batch from the dataloader (unused).
            data_samples (Sequence[dict]): Predictions with ``pred_score``
                (C,) class probabilities and ``gt_label`` (1,) class index.
        """
        if not data_samples:
            return
        for key in ('pred_score', 'gt_label'):
            if key not in data_samples[0]:
                raise KeyError(f'ECE needs {key!r} in each data sample '
                               '(class probabilities and a single label)')
        labels = [sample['gt_label'] for sample in data_samples]
        if any(label.numel() != 1 for label in labels):
            raise ValueError('ECE needs single-label samples: a gt_label '
                             'holds more than one class')
        scores = torch.stack([sample['pred_score'] for sample in data_samples])
        confidences, correct = top1_confidence(scores.cpu(),
                                               torch.cat(labels).cpu())
        self.results.extend(
            dict(confidence=confidence, correct=right)
            for confidence, right in zip(confidences, correct))

    def compute_metrics(self, results: List[dict]) -> dict:
        """ECE and top-1 accuracy (percent) of the gathered results."""
        if not results:
            raise ValueError('ECE got no predictions to evaluate')
        confidences = torch.stack([result['confidence'] for result in results])
        correct = torch.stack([result['correct'] for result in results])
        ece = expected_calibration_error(confidences, correct, self.n_bins)
        return dict(
            ece=float(ece) * 100, top1=float(correct.double().mean()) * 100)
