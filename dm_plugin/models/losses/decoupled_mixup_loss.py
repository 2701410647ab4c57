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

Computation (:class:`DecoupledMixupCE`): with ``p = softmax(z)`` and the
negatives' mass ``r = sum_{c not in P} p_c`` (a masked sum, so no
cancellation), ``-log decoupled_softmax_k = logaddexp(log p_k, log r) -
log p_k``, evaluated at the top-``max_mixed`` scores of each row, with an
analytical backward.
* DM(BCE): BCE-with-logits against ``y_k = 1 if s_k >= xi else (s_k/xi)^power``
  for ``k in P`` and 0 elsewhere.
"""
from contextlib import nullcontext
from typing import Dict, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.models.losses.utils import weight_reduce_loss
from mmpretrain.registry import MODELS

from dm_plugin.validation import (check_choice, check_int, check_number,
                                  values_checkable)

LOSS_MODES = ('ce', 'bce')
REDUCTIONS = ('none', 'mean', 'sum')


def check_loss_inputs(cls_score: torch.Tensor,
                      label: torch.Tensor,
                      weight: Optional[torch.Tensor] = None) -> None:
    """Raise a ``TypeError``/``ValueError`` naming a wrong type or shape.

    Args:
        cls_score (Tensor): Logits, (N, C), floating point.
        label (Tensor): (N,) integer class indices or (N, C) soft scores.
        weight (Tensor, optional): Per-sample weights, (N,).
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


def check_label_values(label: torch.Tensor, num_classes: int) -> None:
    """Raise a ``ValueError`` for class indices out of range or negative
    scores (one pass over the labels)."""
    if label.dim() == 1:
        if ((label < 0) | (label >= num_classes)).any():
            raise ValueError(
                f'label has class indices outside [0, {num_classes}): '
                'num_classes of the head does not match the data')
    elif label.amin() < 0:
        raise ValueError('label scores must be non-negative')


def check_loss_finite(cls_score: torch.Tensor, label: torch.Tensor,
                      parts: Dict[str, torch.Tensor], max_mixed) -> None:
    """Raise a ``ValueError`` naming why the unreduced loss terms ``parts``
    are not finite; the inputs are only scanned when they are not (any
    NaN/Inf logit or score makes them so)."""
    if all(torch.isfinite(part).all() for part in parts.values()):
        return
    if not torch.isfinite(cls_score).all():
        raise ValueError('cls_score contains NaN or Inf logits')
    if not torch.isfinite(label).all():
        raise ValueError('label scores contain NaN or Inf')
    if 'dr' in parts and torch.isnan(parts['dr']).any():
        raise ValueError(
            f'a row mixes more than max_mixed={max_mixed} classes; set '
            'DecoupledMixupLoss(max_mixed=k) for k-way mixing, or None')
    raise ValueError('the loss overflowed although its inputs are finite: '
                     'scores far larger than 1?')


def to_soft_target(label: torch.Tensor, num_classes: int,
                   dtype: torch.dtype) -> torch.Tensor:
    """(N,) class indices or (N, C) scores -> (N, C) scores of ``dtype``."""
    if label.dim() == 1:
        return F.one_hot(label.long(), num_classes).to(dtype)
    return label.to(dtype)


def positive_threshold(target: torch.Tensor, pos_thr: float) -> torch.Tensor:
    """(N, 1) score above which a class of the row counts as mixed: the
    row's background level (its minimum) plus ``pos_thr``.

    When every class of a row is mixed the least-weighted one is taken for
    background; the regularizer is then only approximate, for a case (k-way
    mixing with k = C) that does not occur in practice.
    """
    return target.amin(dim=-1, keepdim=True) + pos_thr


def positive_mask(target: torch.Tensor, pos_thr: float) -> torch.Tensor:
    """(N, C) bool mask of the mixed classes of each row."""
    return target > positive_threshold(target, pos_thr)


def mixup_cross_entropy(log_prob: torch.Tensor,
                        target: torch.Tensor) -> torch.Tensor:
    """Soft-target cross-entropy per sample from log-probabilities:
    (N, C), (N, C) -> (N,)."""
    return -(target * log_prob).sum(dim=-1)


def top_mixed_classes(target: torch.Tensor, pos_thr: float,
                      max_mixed: Optional[int]):
    """The mixed classes of each row, gathered from its top scores.

    Returns:
        tuple: (N, K) scores and indices of the top ``K = max_mixed`` (all C
        for ``None``) scores in descending order, (N, K) bool mask of those
        that are mixed (a prefix of each row), and (N,) bool mask of rows
        with more than ``max_mixed`` mixed classes.
    """
    num_classes = target.size(-1)
    threshold = positive_threshold(target, pos_thr)
    num_top = num_classes if max_mixed is None else min(
        max_mixed + 1, num_classes)
    top_score, top_index = target.topk(num_top, dim=-1)
    is_positive = top_score > threshold
    if max_mixed is None or num_top <= max_mixed:
        return (top_score, top_index, is_positive,
                torch.zeros_like(is_positive[:, 0]))
    return (top_score[:, :max_mixed], top_index[:, :max_mixed],
            is_positive[:, :max_mixed], is_positive[:, max_mixed])


class DecoupledMixupCE(torch.autograd.Function):
    """Per-sample MCE and decoupled regularizer with a fused backward.

    Works on the negatives' softmax ``q = softmax(z masked to c not in P)``
    and their log-mass ``log r = LSE_{c not in P} z - LSE z``, both exact in
    every float range (no ``1 - sum`` cancellation, no underflow of ``r``).
    With ``u_k = p_k + r`` and ``sigma_k = p_k / u_k`` (the decoupled
    softmax): ``DR = sum_{k in P} w_k (log u_k - log p_k)`` and

    * ``dMCE/dz = p * sum(s) - s`` with ``p = r * q`` off ``P``,
    * ``dDR/dz_k = w_k (sigma_k - 1)`` on ``P``, and
      ``q_j * sum_k w_k (1 - sigma_k)`` off ``P`` (bounded: no overflow).

    Per-class work is done on the top ``max_mixed`` scores only and the
    gradient is written out, so DM costs one more softmax-sized pass than a
    soft cross-entropy. ``forward(logits, target, pos_thr, lam_weighted,
    max_mixed)`` -> ``(mce, dr)``, both (N,); the targets get no gradient.
    """

    @staticmethod
    def forward(ctx, logits, target, pos_thr, lam_weighted, max_mixed):
        top_score, top_index, is_positive, too_many = top_mixed_classes(
            target, pos_thr, max_mixed)
        top_logit = logits.gather(-1, top_index)
        lowest = torch.finfo(logits.dtype).min
        negative_logits = logits.scatter(
            -1, top_index, torch.where(is_positive, lowest, top_logit))
        negative_prob = negative_logits.softmax(dim=-1)  # q
        # LSE from the largest term, whose share is >= 1/C (no underflow).
        negative_lse = negative_logits.amax(dim=-1, keepdim=True) - \
            negative_prob.amax(dim=-1, keepdim=True).log()
        lse = torch.cat(
            [negative_lse,
             torch.where(is_positive, top_logit, -torch.inf)], dim=-1
        ).logsumexp(dim=-1, keepdim=True)

        total = target.sum(dim=-1, keepdim=True)
        mce = (lse * total -
               (target * logits).sum(dim=-1, keepdim=True)).squeeze(-1)

        # -log sigma_k = log(exp(z_k) + sum_{c not in P} exp(z_c)) - z_k
        neg_log_decoupled = torch.logaddexp(top_logit,
                                            negative_lse) - top_logit
        is_mixed = is_positive[:, 1:2]  # mixed classes are a prefix
        weight = top_score if lam_weighted else torch.ones_like(top_score)
        weight = torch.where(is_positive & is_mixed, weight, 0.)
        dr = (weight * neg_log_decoupled).sum(dim=-1)
        dr = torch.where(too_many, torch.nan, dr)

        ctx.save_for_backward(target, total, negative_prob, negative_lse, lse,
                              top_index, is_positive, top_logit, weight,
                              neg_log_decoupled)
        return mce, dr

    @staticmethod
    def backward(ctx, grad_mce, grad_dr):
        (target, total, negative_prob, negative_lse, lse, top_index,
         is_positive, top_logit, weight,
         neg_log_decoupled) = ctx.saved_tensors
        grad_mce = grad_mce[:, None]
        grad_dr = grad_dr[:, None]
        mce_coef = grad_mce * total
        # 1 - sigma_k: the share of the negatives in the decoupled softmax.
        negative_share = -torch.expm1(-neg_log_decoupled)
        # Off P: p_j = r q_j in the MCE term, q_j sum_k w_k (1 - sigma_k)
        # in the DR term; q is 0 on P.
        negative_coef = mce_coef * (negative_lse - lse).exp() + \
            grad_dr * (weight * negative_share).sum(dim=-1, keepdim=True)
        grad = (negative_prob * negative_coef).addcmul_(
            target, grad_mce, value=-1)
        # On P: p_k sum(s) for the MCE, -w_k (1 - sigma_k) for the DR.
        positive_grad = torch.where(
            is_positive, mce_coef * (top_logit - lse).exp(), 0.) - \
            grad_dr * weight * negative_share
        return (grad.scatter_add_(-1, top_index, positive_grad), None, None,
                None, None)


def decoupled_mixup_ce(logits: torch.Tensor,
                       target: torch.Tensor,
                       pos_thr: float = 1e-3,
                       lam_weighted: bool = True,
                       max_mixed: Optional[int] = 2):
    """Per-sample mixup cross-entropy and decoupled regularizer.

    Args:
        logits (Tensor): (N, C) logits.
        target (Tensor): (N, C) mixed scores (no gradient flows to them).
        pos_thr (float): See :func:`positive_threshold`.
        lam_weighted (bool): Weight each mixed class by its score, else 1.
        max_mixed (int, optional): Most mixed classes a row may have (2 for
            pairwise mixers); they are gathered from the top ``max_mixed``
            scores. ``None`` allows any number (slower). A row with more
            mixed classes gets a NaN regularizer, never a silently wrong one.

    Returns:
        tuple: (N,) MCE and (N,) DR (0 on rows with fewer than two mixed
        classes).
    """
    if target.requires_grad:
        raise ValueError('DecoupledMixupLoss gives no gradient to the '
                         'targets; detach them')
    return DecoupledMixupCE.apply(logits, target, pos_thr, lam_weighted,
                                  max_mixed)


def decoupled_bce_target(target: torch.Tensor,
                         pos_thr: float = 1e-3,
                         xi: float = 1.0,
                         power: float = 1.0) -> torch.Tensor:
    """DM(BCE) target: mixed scores rescaled by threshold ``xi`` and power.

    (N, C) -> (N, C): ``1`` where ``s_k >= xi``, ``(s_k / xi) ** power`` on
    the other mixed classes, ``0`` on the rest.
    """
    rescaled = torch.where(target >= xi, 1., (target / xi).pow(power))
    return torch.where(positive_mask(target, pos_thr), rescaled, 0.)


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
        max_mixed (int, optional): Most classes mixed into one sample: 2 for
            every pairwise mixer; raise it for k-way mixing, or ``None`` for
            any number (exact, slower). A row with more mixed classes raises
            (CPU) or makes the loss NaN (GPU). Defaults to 2.
        check_values (bool, optional): Raise on bad input values (NaN/Inf
            logits or scores, negative scores, class indices out of range).
            ``None``: only where that costs no host sync, i.e. for CPU tensors
            in eager mode; elsewhere bad values give a non-finite loss that
            :class:`NonFiniteLossHook` reports. Defaults to None.

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
                 max_mixed: Optional[int] = 2,
                 check_values: Optional[bool] = None):
        super().__init__()
        check_choice('mode', mode, LOSS_MODES)
        check_choice('reduction', reduction, REDUCTIONS)
        check_number('eta', eta, low=0., low_inclusive=True)
        check_number('pos_thr', pos_thr, low=0., low_inclusive=True)
        if max_mixed is not None:
            check_int('max_mixed', max_mixed, 2)
        check_number('xi', xi, low=0., high=1.)
        check_number('power', power, low=0.)
        check_number('loss_weight', loss_weight, low=0., low_inclusive=True)
        self.eta = float(eta)
        self.mode = mode
        self.lam_weighted = lam_weighted
        self.pos_thr = float(pos_thr)
        self.max_mixed = max_mixed
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
        """The whole loss: the sum of :meth:`loss_parts`, reduced once."""
        terms, weight, reduction = self._unreduced_terms(
            cls_score, label, weight, reduction_override, kwargs)
        mce_or_bce, *others = terms.values()
        for term in others:
            mce_or_bce = mce_or_bce + term
        return self._reduce(mce_or_bce, weight, reduction, avg_factor)

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
        terms, weight, reduction = self._unreduced_terms(
            cls_score, label, weight, reduction_override, kwargs)
        return {
            name: self._reduce(value, weight, reduction, avg_factor)
            for name, value in terms.items()
        }

    def _unreduced_terms(self, cls_score, label, weight, reduction_override,
                         kwargs):
        """Checked inputs -> (per-sample terms, weight, reduction)."""
        if kwargs:
            raise TypeError('DecoupledMixupLoss got unexpected arguments: '
                            f'{sorted(kwargs)}')
        reduction = reduction_override or self.reduction
        check_choice('reduction_override', reduction, REDUCTIONS)
        check_loss_inputs(cls_score, label, weight)
        check_values = self.check_values
        if check_values is None:
            check_values = values_checkable(cls_score, label)
        if check_values:
            check_label_values(label, cls_score.size(1))
        device_type = cls_score.device.type
        with torch.autocast(device_type=device_type, enabled=False) if \
                torch.is_autocast_enabled(device_type) else nullcontext():
            # At least float32: fp16/bf16 logits are upcast, float64 kept.
            logits = cls_score.to(
                torch.promote_types(cls_score.dtype, torch.float32))
            target = to_soft_target(label, logits.size(1), logits.dtype)
            if self.mode == 'bce':
                terms = self._bce_parts(logits, target)
            else:
                terms = self._ce_parts(logits, target)
        if check_values:
            check_loss_finite(cls_score, label, terms, self.max_mixed)
        if weight is not None:
            weight = weight.to(logits.dtype)
            if self.mode == 'bce':
                weight = weight[:, None]  # broadcast over the classes
        return terms, weight, reduction

    def _reduce(self, value, weight, reduction, avg_factor) -> torch.Tensor:
        return self.loss_weight * weight_reduce_loss(
            value, weight, reduction=reduction, avg_factor=avg_factor)

    def _ce_parts(self, logits: torch.Tensor,
                  target: torch.Tensor) -> Dict[str, torch.Tensor]:
        if self.eta == 0:
            return {
                'mce': mixup_cross_entropy(logits.log_softmax(dim=-1), target)
            }
        mce, dr = decoupled_mixup_ce(logits, target, self.pos_thr,
                                     self.lam_weighted, self.max_mixed)
        return {'mce': mce, 'dr': self.eta * dr}

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
                f'max_mixed={self.max_mixed}, '
                f'xi={self.xi}, power={self.power}, '
                f'loss_weight={self.loss_weight}, '
                f'reduction={self.reduction!r}')

