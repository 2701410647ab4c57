"""Decoupled Mixup loss: DM(CE) and DM(BCE).

Liu, Li et al. "Harnessing Hard Mixed Samples with Decoupled Regularizer",
NeurIPS 2023 (arXiv:2203.10761).

Notation: logits ``z`` (N, C); mixed soft target ``s`` (N, C). The mixed
(positive) classes of a row are ``P = {c : s_c - bg > pos_thr}`` where ``bg``
is the row's background level (its minimum: 0 for plain mixup targets,
``eps / C`` under label smoothing).

* MCE: ``-sum_c s_c log softmax(z)_c``.
* Decoupled softmax of ``k in P``: ``exp(z_k) / (exp(z_k) + sum_{c not in P}
  exp(z_c))``; ``-log`` of it is ``logaddexp(z_k, LSE_{c not in P} z_c) -
  z_k`` (= ``softplus(LSE - z_k)``).
* DR: ``sum_{k in P} w_k (-log decoupled_softmax_k)`` with ``w_k = s_k``
  (``lam_weighted=True``) or ``w_k = 1`` (the paper's two-hot form), on rows
  with ``|P| >= 2``; rows with a single class (unmixed, or mixed with its own
  class) get no regularizer.
* DM(CE) = MCE + eta * DR.
* DM(BCE): BCE-with-logits against ``y_k = 1 if s_k >= xi else (s_k/xi)^power``
  for ``k in P`` and 0 elsewhere.
"""
from typing import Dict, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.models.losses.utils import weight_reduce_loss
from mmpretrain.registry import MODELS

from dm_plugin.validation import (check_choice, check_number,
                                  values_checkable)

LOSS_MODES = ('ce', 'bce')
REDUCTIONS = ('none', 'mean', 'sum')


def check_loss_inputs(cls_score: torch.Tensor,
                      label: torch.Tensor,
                      weight: Optional[torch.Tensor] = None,
                      check_values: Optional[bool] = None) -> None:
    """Raise a ``TypeError``/``ValueError`` naming what is wrong.

    Args:
        cls_score (Tensor): Logits, (N, C), floating point.
        label (Tensor): (N,) integer class indices or (N, C) soft scores.
        weight (Tensor, optional): Per-sample weights, (N,).
        check_values (bool, optional): Also check values (finite logits,
            finite non-negative targets, indices in range). ``None`` checks
            them only where it costs no host sync (see ``values_checkable``).
    """
    if not isinstance(cls_score, torch.Tensor) or \
            not cls_score.is_floating_point():
        raise TypeError('cls_score must be a floating-point tensor, got '
                        f'{getattr(cls_score, "dtype", type(cls_score))}')
    if not isinstance(label, torch.Tensor):
        raise TypeError(f'label must be a tensor, got {type(label)}')
    if cls_score.dim() != 2:
        raise ValueError('cls_score must have shape (N, C), got '
                         f'{tuple(cls_score.shape)}')
    num_samples, num_classes = cls_score.shape
    if label.dim() == 1:
        if label.is_floating_point():
            raise TypeError('a 1-D label holds class indices and must be an '
                            f'integer tensor, got {label.dtype}')
    elif label.dim() == 2:
        if not label.is_floating_point():
            raise TypeError('a 2-D label holds soft scores and must be a '
                            f'floating-point tensor, got {label.dtype}')
        if label.size(1) != num_classes:
            raise ValueError(
                f'num_classes mismatch: label scores have {label.size(1)} '
                f'classes but cls_score has {num_classes}')
    else:
        raise ValueError('label must be (N,) class indices or (N, C) scores, '
                         f'got shape {tuple(label.shape)}')
    if label.size(0) != num_samples:
        raise ValueError(f'shape mismatch: cls_score has {num_samples} '
                         f'samples but label has {label.size(0)}')
    if weight is not None and tuple(weight.shape) != (num_samples, ):
        raise ValueError(f'weight must have shape ({num_samples},), got '
                         f'{tuple(weight.shape)}')

    if check_values is None:
        check_values = values_checkable(cls_score, label)
    if not check_values:
        return
    if not torch.isfinite(cls_score).all():
        raise ValueError('cls_score contains NaN or Inf logits')
    if label.dim() == 1:
        if ((label < 0) | (label >= num_classes)).any():
            raise ValueError(
                f'label has class indices outside [0, {num_classes}): '
                'num_classes of the head does not match the data')
    else:
        if not torch.isfinite(label).all():
            raise ValueError('label scores contain NaN or Inf')
        if (label < 0).any():
            raise ValueError('label scores must be non-negative')


def to_soft_target(label: torch.Tensor, num_classes: int,
                   dtype: torch.dtype) -> torch.Tensor:
    """(N,) class indices or (N, C) scores -> (N, C) scores of ``dtype``."""
    if label.dim() == 1:
        return F.one_hot(label.long(), num_classes).to(dtype)
    return label.to(dtype)


def positive_mask(target: torch.Tensor, pos_thr: float) -> torch.Tensor:
    """(N, C) bool mask of the mixed classes of each row.

    A class is positive when its score exceeds the row's background level
    (its minimum) by more than ``pos_thr``. When every class of a row is mixed,
    the least-weighted one is taken for background; the regularizer is then
    only approximate, for a case (k-way mixing with k = C) that does not occur
    in practice.
    """
    background = target.amin(dim=-1, keepdim=True)
    return (target - background) > pos_thr


def mixup_cross_entropy(logits: torch.Tensor,
                        target: torch.Tensor) -> torch.Tensor:
    """Soft-target cross-entropy per sample: (N, C), (N, C) -> (N,)."""
    return -(target * logits.log_softmax(dim=-1)).sum(dim=-1)


def decoupled_regularizer(logits: torch.Tensor,
                          target: torch.Tensor,
                          pos_thr: float = 1e-3,
                          lam_weighted: bool = True) -> torch.Tensor:
    """Decoupled regularizer per sample: (N, C), (N, C) -> (N,).

    ``-log`` of the decoupled softmax of each mixed class, weighted by its
    score (``lam_weighted``) or by 1, summed over the mixed classes; 0 on rows
    with fewer than two mixed classes.
    """
    positive = positive_mask(target, pos_thr)
    # A finite fill keeps the gradient finite when every class is positive.
    neg_fill = torch.finfo(logits.dtype).min
    negative_lse = logits.masked_fill(positive, neg_fill).logsumexp(
        dim=-1, keepdim=True)
    # -log σ̂_k = log(exp(z_k) + exp(LSE_neg)) - z_k; exact for any gap
    # (softplus switches to its linear asymptote past 20).
    neg_log_decoupled = torch.logaddexp(logits, negative_lse) - logits
    class_weight = target if lam_weighted else torch.ones_like(target)
    class_weight = torch.where(positive, class_weight, 0.)
    regularizer = (class_weight * neg_log_decoupled).sum(dim=-1)
    is_mixed = positive.sum(dim=-1) >= 2
    return torch.where(is_mixed, regularizer, 0.)


def decoupled_bce_target(target: torch.Tensor,
                         pos_thr: float = 1e-3,
                         xi: float = 1.0,
                         power: float = 1.0) -> torch.Tensor:
    """DM(BCE) target: mixed scores rescaled by threshold ``xi`` and power.

    (N, C) -> (N, C): ``1`` where ``s_k >= xi``, ``(s_k / xi) ** power`` on
    the other mixed classes, ``0`` on the rest.
    """
    positive = positive_mask(target, pos_thr)
    rescaled = torch.where(target >= xi, 1., (target / xi).pow(power))
    return torch.where(positive, rescaled, 0.)


@MODELS.register_module()
class DecoupledMixupLoss(nn.Module):
    """Decoupled Mixup loss (DM), for mixup and plain classification training.

    Paper: Liu, Li et al. "Harnessing Hard Mixed Samples with Decoupled
    Regularizer", NeurIPS 2023 (arXiv:2203.10761).

    ``mode='ce'``: DM(CE) = mixup cross-entropy + ``eta`` * decoupled
    regularizer; with ``eta=0`` it equals mmpretrain's soft cross-entropy.
    ``mode='bce'``: DM(BCE), binary cross-entropy against mixed targets
    rescaled by ``xi`` and ``power``; averaged as mmpretrain's
    ``CrossEntropyLoss(use_sigmoid=True)``.

    The math runs in float32 (float64 inputs stay float64), also under
    fp16/bf16 autocast, and has no host syncs (it compiles with
    ``torch.compile(fullgraph=True)``).

    Args:
        eta (float): Weight of the decoupled regularizer (>= 0). 0.1 for
            CIFAR/ImageNet CNNs in the paper. Defaults to 0.1.
        mode (str): ``'ce'`` or ``'bce'``. Defaults to ``'ce'``.
        lam_weighted (bool): Weight each mixed class by its score ``s_k``
            (the authors' public configs) instead of 1 (the paper's two-hot
            form). Defaults to True.
        pos_thr (float): A class is mixed when its score exceeds the row's
            background level by more than this. Defaults to 1e-3.
        xi (float): DM(BCE) threshold in (0, 1]. Defaults to 1.0.
        power (float): DM(BCE) power (> 0). Defaults to 1.0.
        loss_weight (float): Scale of the whole loss. Defaults to 1.0.
        reduction (str): ``'none'``, ``'mean'`` or ``'sum'``.
            Defaults to ``'mean'``.
        check_values (bool, optional): Check input values (finite logits,
            valid targets). ``None``: only where free of host syncs, i.e. for
            CPU tensors in eager mode. Defaults to None.

    Shapes:
        cls_score: (N, C) logits.
        label: (N,) class indices or (N, C) non-negative soft scores.
        weight: optional (N,) per-sample weights.
        output: scalar, or (N,) (``'ce'``) / (N, C) (``'bce'``) with
        ``reduction='none'``.

    Example:
        >>> loss = DecoupledMixupLoss(eta=0.1)
        >>> logits = torch.randn(4, 10)
        >>> scores = 0.7 * F.one_hot(torch.tensor([0, 1, 2, 3]), 10) \
        ...     + 0.3 * F.one_hot(torch.tensor([1, 2, 3, 0]), 10)
        >>> loss(logits, scores)
    """

    def __init__(self,
                 eta: float = 0.1,
                 mode: str = 'ce',
                 lam_weighted: bool = True,
                 pos_thr: float = 1e-3,
                 xi: float = 1.0,
                 power: float = 1.0,
                 loss_weight: float = 1.0,
                 reduction: str = 'mean',
                 check_values: Optional[bool] = None):
        super().__init__()
        check_choice('mode', mode, LOSS_MODES)
        check_choice('reduction', reduction, REDUCTIONS)
        check_number('eta', eta, low=0., low_inclusive=True)
        check_number('pos_thr', pos_thr, low=0., low_inclusive=True)
        check_number('xi', xi, low=0., high=1.)
        check_number('power', power, low=0.)
        check_number('loss_weight', loss_weight, low=0., low_inclusive=True)
        self.eta = float(eta)
        self.mode = mode
        self.lam_weighted = lam_weighted
        self.pos_thr = float(pos_thr)
        self.xi = float(xi)
        self.power = float(power)
        self.loss_weight = float(loss_weight)
        self.reduction = reduction
        self.check_values = check_values

    def forward(self,
                cls_score: torch.Tensor,
                label: torch.Tensor,
                weight: Optional[torch.Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None,
                **kwargs) -> torch.Tensor:
        """The whole loss: the sum of :meth:`loss_parts`."""
        parts = self.loss_parts(cls_score, label, weight, avg_factor,
                                reduction_override, **kwargs)
        return sum(parts.values())

    def loss_parts(self,
                   cls_score: torch.Tensor,
                   label: torch.Tensor,
                   weight: Optional[torch.Tensor] = None,
                   avg_factor: Optional[float] = None,
                   reduction_override: Optional[str] = None,
                   **kwargs) -> Dict[str, torch.Tensor]:
        """The loss split in its terms, each reduced and scaled.

        Returns:
            dict: ``{'mce': ..., 'dr': eta * ...}`` in ``'ce'`` mode (``'dr'``
            left out when ``eta == 0``), ``{'bce': ...}`` in ``'bce'`` mode;
            everything already multiplied by ``loss_weight``.
        """
        if kwargs:
            raise TypeError('DecoupledMixupLoss got unexpected arguments: '
                            f'{sorted(kwargs)}')
        reduction = reduction_override or self.reduction
        check_choice('reduction_override', reduction, REDUCTIONS)
        check_loss_inputs(cls_score, label, weight, self.check_values)
        device_type = cls_score.device.type
        with torch.autocast(device_type=device_type, enabled=False):
            # At least float32: fp16/bf16 logits are upcast, float64 kept.
            logits = cls_score.to(
                torch.promote_types(cls_score.dtype, torch.float32))
            target = to_soft_target(label, logits.size(1), logits.dtype)
            if self.mode == 'bce':
                parts = self._bce_parts(logits, target)
            else:
                parts = self._ce_parts(logits, target)
            if weight is not None:
                weight = weight.to(logits.dtype)
                if self.mode == 'bce':
                    weight = weight[:, None]  # broadcast over the classes
            return {
                name: self.loss_weight * weight_reduce_loss(
                    value, weight, reduction=reduction, avg_factor=avg_factor)
                for name, value in parts.items()
            }

    def _ce_parts(self, logits: torch.Tensor,
                  target: torch.Tensor) -> Dict[str, torch.Tensor]:
        parts = {'mce': mixup_cross_entropy(logits, target)}
        if self.eta > 0:
            parts['dr'] = self.eta * decoupled_regularizer(
                logits, target, self.pos_thr, self.lam_weighted)
        return parts

    def _bce_parts(self, logits: torch.Tensor,
                   target: torch.Tensor) -> Dict[str, torch.Tensor]:
        bce_target = decoupled_bce_target(target, self.pos_thr, self.xi,
                                          self.power)
        return {
            'bce':
            F.binary_cross_entropy_with_logits(
                logits, bce_target, reduction='none')
        }

    def extra_repr(self) -> str:
        return (f'eta={self.eta}, mode={self.mode!r}, '
                f'lam_weighted={self.lam_weighted}, pos_thr={self.pos_thr}, '
                f'xi={self.xi}, power={self.power}, '
                f'loss_weight={self.loss_weight}, '
                f'reduction={self.reduction!r}')

