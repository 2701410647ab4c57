"""Decoupled Mixup loss: DM(CE) and DM(BCE).

Liu, Li et al. "Harnessing Hard Mixed Samples with Decoupled Regularizer",
NeurIPS 2023 (arXiv:2203.10761).

With logits ``z`` (N, C), mixed scores ``s`` (N, C) and a row's mixed classes
``P`` (see :mod:`.targets`)::

    MCE = -sum_c s_c log softmax(z)_c = LSE(z) sum_c s_c - sum_c s_c z_c
    DR  = sum_{k in P} w_k (-log sigma_k),
          sigma_k = exp(z_k) / (exp(z_k) + sum_{c not in P} exp(z_c))
    -log sigma_k = softplus(LSE_{c not in P}(z) - z_k)
    DM(CE) = MCE + eta * DR            (DR = 0 on rows with |P| < 2)

``w_k`` follows ``decouple``, ``lam_power`` and ``lam_thr``
(:func:`.targets.decoupled_weights`). The negatives' LSE comes from their
own softmax, so every term is exact in any float range; the gradient is
written out (:class:`DecoupledCE`), so DM adds a top-k of the scores and one
softmax-sized pass to a soft cross-entropy. DM(BCE) is BCE-with-logits
against :func:`.targets.bce_target`.
"""
import operator
from contextlib import nullcontext
from functools import reduce
from typing import Dict, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.models.losses.utils import weight_reduce_loss
from mmpretrain.registry import MODELS

from dm_plugin.validation import (check_choice, check_int, check_number,
                                  values_checkable)
from .checks import (check_finite_terms, check_input_values,
                     check_loss_inputs, resolve_objective)
from .targets import (DECOUPLE_MODES, bce_target, decoupled_weights,
                      mixed_classes, smooth_target, to_soft_target)

REDUCTIONS = ('none', 'mean', 'sum')


class DecoupledCE(torch.autograd.Function):
    """``(logits, target, index, present, weight) -> (mce, dr)``, both (N,).

    ``index``/``present`` (N, K): the slots of each row's mixed classes
    (:func:`.targets.mixed_classes`, distinct classes); ``weight`` (N, K):
    their weights in DR. The targets get no gradient. Backward, with
    ``p = softmax(z)``, the
    negatives' softmax ``q`` and ``1 - sigma_k = sigmoid(LSE_neg - z_k)``:
    ``dMCE/dz = p sum(s) - s``; ``dDR/dz_k = -w_k (1 - sigma_k)`` on ``P``
    and ``q_c sum_k w_k (1 - sigma_k)`` off ``P``.
    """

    @staticmethod
    def forward(ctx, logits, target, index, present, weight):
        mixed_logit = logits.gather(-1, index)
        # The negatives alone: the mixed classes set to the lowest float.
        lowest = torch.finfo(logits.dtype).min
        negatives = logits.scatter(-1, index,
                                   mixed_logit.masked_fill(present, lowest))
        negative_prob = negatives.softmax(dim=-1)
        # Their LSE from the largest term, whose share is >= 1/C.
        negative_lse = negatives.amax(dim=-1, keepdim=True) - \
            negative_prob.amax(dim=-1, keepdim=True).log()
        present_logit = torch.where(present, mixed_logit, -torch.inf)
        lse = torch.cat([negative_lse, present_logit],
                        dim=-1).logsumexp(dim=-1, keepdim=True)
        total = target.sum(dim=-1, keepdim=True)
        mce = (lse * total).squeeze(-1) - torch.linalg.vecdot(target, logits)
        # -log sigma_k = softplus(gap); 1 - sigma_k = sigmoid(gap). Unweighted
        # slots get gap 0 (theirs may overflow for |logits| ~ 1e38).
        gap = (negative_lse - mixed_logit).masked_fill_(weight == 0, 0.)
        dr = torch.linalg.vecdot(weight, F.softplus(gap))
        ctx.save_for_backward(target, total, negative_prob, negative_lse, lse,
                              index, present_logit, weight * gap.sigmoid())
        return mce, dr

    @staticmethod
    def backward(ctx, grad_mce, grad_dr):
        (target, total, negative_prob, negative_lse, lse, index,
         present_logit, weighted_pull) = ctx.saved_tensors
        grad_mce, grad_dr = grad_mce[:, None], grad_dr[:, None]
        mce_scale = grad_mce * total
        # Off P (q is 0 on P): p_c = q_c exp(LSE_neg - LSE) in the MCE term.
        negative_coef = mce_scale * (negative_lse - lse).exp() + \
            grad_dr * weighted_pull.sum(dim=-1, keepdim=True)
        grad = (negative_prob * negative_coef).addcmul_(
            target, grad_mce, value=-1)
        # On P: p_k = exp(z_k - LSE); slots off P have p 0 and no pull.
        mixed_grad = mce_scale * (present_logit - lse).exp() - \
            grad_dr * weighted_pull
        return grad.scatter_add_(-1, index, mixed_grad), None, None, None, None


def decoupled_mixup_ce(logits: torch.Tensor,
                       target: torch.Tensor,
                       pos_thr: float = 1e-3,
                       max_mixed: Optional[int] = 2,
                       decouple: str = 'both',
                       lam_power: float = 1.,
                       lam_thr: float = 1.):
    """Per-sample mixup cross-entropy and decoupled regularizer.

    Args:
        logits (Tensor): (N, C) logits.
        target (Tensor): (N, C) mixed scores (no gradient flows to them).
        pos_thr, decouple, lam_power, lam_thr: see
            :class:`DecoupledMixupLoss`.
        max_mixed (int, optional): Most mixed classes a row may have; rows
            with more get a NaN regularizer, never a silently wrong one.

    Returns:
        tuple: (N,) MCE and (N,) DR (0 on rows with fewer than two mixed
        classes).
    """
    score, index, present, count = mixed_classes(target, pos_thr, max_mixed)
    weight = decoupled_weights(score, present, count, decouple, lam_power,
                               lam_thr)
    mce, dr = DecoupledCE.apply(logits, target, index, present, weight)
    if max_mixed is None:
        return mce, dr
    return mce, dr.masked_fill(count > max_mixed, torch.nan)


@MODELS.register_module()
class DecoupledMixupLoss(nn.Module):
    """Decoupled Mixup loss (DM), for mixup and plain classification training.

    Paper: Liu, Li et al. "Harnessing Hard Mixed Samples with Decoupled
    Regularizer", NeurIPS 2023 (arXiv:2203.10761). The regularizer options
    are those of the authors' ``ClsMixupHead`` (OpenMixup): ``decouple`` is
    its ``eta_weight['mode']`` (``'both'``, ``'more'`` = ``'major'``,
    ``'less'`` = ``'minor'`` at ``thr=0.5``), ``lam_power``/``lam_thr`` its
    ``lam_idx``/``lam_thr`` with ``lam_scale_mode='pow'``, applied per row
    (docs/fidelity.md).

    ``mode='ce'``: DM(CE) = mixup cross-entropy + ``eta`` * decoupled
    regularizer; with ``eta=0`` it equals mmpretrain's soft cross-entropy.
    ``mode='bce'``: DM(BCE), binary cross-entropy against mixed targets
    rescaled by ``xi`` and ``power``; averaged as mmpretrain's
    ``CrossEntropyLoss(use_sigmoid=True)``.

    Drop-in for a stock head's loss: the keys a loss dict inherits from
    mmpretrain's ``CrossEntropyLoss`` or ``LabelSmoothLoss`` keep their
    meaning (``use_soft``, ``use_sigmoid``, ``label_smooth_val``,
    ``num_classes``, and ``mode='original'|'classy_vision'|'multi_label'``);
    ``class_weight``/``pos_weight`` raise.

    The math runs in float32 (float64 inputs stay float64), also under
    fp16/bf16 autocast, and has no host syncs (it compiles with
    ``torch.compile(fullgraph=True)``).

    Args:
        eta (float): Weight of the decoupled regularizer (>= 0).
            Defaults to 0.1.
        mode (str, optional): ``'ce'``, ``'bce'``, or a ``LabelSmoothLoss``
            mode (the smoothing of ``label_smooth_val``; ``'multi_label'``
            is DM(BCE)). Defaults to None: ``'ce'``, or ``'bce'`` with
            ``use_sigmoid=True``.
        lam_weighted (bool): Shorthand for ``lam_power`` 1 (True, weight
            ``s_k``) or 0 (False, the paper's two-hot form).
            Defaults to True.
        pos_thr (float): A class is mixed when its score exceeds the row's
            background level (its minimum) by more than this.
            Defaults to 1e-3.
        xi (float): DM(BCE) threshold in (0, 1]. Defaults to 1.0.
        power (float): DM(BCE) power (> 0). Defaults to 1.0.
        loss_weight (float): Scale of the whole loss. Defaults to 1.0.
        reduction (str): ``'none'``, ``'mean'`` or ``'sum'``.
            Defaults to ``'mean'``.
        max_mixed (int, optional): Most classes mixed into one sample: 2 for
            every pairwise mixer; raise it for k-way mixing, or ``None`` for
            any number (slower). A row with more mixed classes raises (CPU)
            or makes the loss NaN (GPU). Defaults to 2.
        check_values (bool, optional): Raise on bad input values (NaN/Inf
            logits or scores, negative scores, class indices out of range,
            NaN/Inf/negative ``weight``). ``None``: only where that costs no
            host sync, i.e. for CPU tensors in eager mode; elsewhere bad
            values give a non-finite loss that ``NonFiniteLossHook``
            reports. Defaults to None.
        decouple (str): Which mixed classes DR regularizes: ``'both'`` all,
            ``'major'`` the row's top class, ``'minor'`` the others.
            Defaults to ``'both'``.
        lam_power (float, optional): ``w_k = 1`` if ``s_k >= lam_thr``,
            else ``(s_k / lam_thr) ** lam_power`` (>= 0). Defaults to None
            (from ``lam_weighted``).
        lam_thr (float): See ``lam_power``; in (0, 1]. Defaults to 1.0.
        label_smooth_val (float): Label smoothing in [0, 1), applied to the
            targets as mmpretrain's ``LabelSmoothLoss`` does for ``mode``
            (``'original'`` unless ``mode`` names another); the mixed
            classes are then those above the smoothed background.
            Defaults to 0.
        num_classes (int, optional): If set, the logits must have this many
            classes. Defaults to None.
        use_sigmoid (bool, optional): True: DM(BCE); False: DM(CE).
            Defaults to None (see ``mode``).
        use_soft (bool, optional): Accepted for ``CrossEntropyLoss``
            configs; DM(CE) always takes soft scores (and class indices).
            Defaults to None.
        class_weight, pos_weight: Must be None (not supported).

    Shapes:
        cls_score: (N, C) logits, N >= 1.
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
                 mode: Optional[str] = None,
                 lam_weighted: bool = True,
                 pos_thr: float = 1e-3,
                 xi: float = 1.0,
                 power: float = 1.0,
                 loss_weight: float = 1.0,
                 reduction: str = 'mean',
                 max_mixed: Optional[int] = 2,
                 check_values: Optional[bool] = None,
                 *,
                 decouple: str = 'both',
                 lam_power: Optional[float] = None,
                 lam_thr: float = 1.0,
                 label_smooth_val: float = 0.,
                 num_classes: Optional[int] = None,
                 use_sigmoid: Optional[bool] = None,
                 use_soft: Optional[bool] = None,
                 class_weight=None,
                 pos_weight=None):
        super().__init__()
        self.mode, self.smoothing = resolve_objective(
            mode, use_sigmoid, use_soft, label_smooth_val, class_weight,
            pos_weight)
        check_choice('reduction', reduction, REDUCTIONS)
        check_choice('decouple', decouple, DECOUPLE_MODES)
        check_number('eta', eta, low=0., low_inclusive=True)
        check_number('pos_thr', pos_thr, low=0., low_inclusive=True)
        if max_mixed is not None:
            check_int('max_mixed', max_mixed, 2)
        if num_classes is not None:
            check_int('num_classes', num_classes, 1)
        check_number('xi', xi, low=0., high=1.)
        check_number('power', power, low=0.)
        check_number('loss_weight', loss_weight, low=0., low_inclusive=True)
        check_number('lam_thr', lam_thr, low=0., high=1.)
        if not isinstance(lam_weighted, bool):
            raise TypeError(
                f'lam_weighted must be a bool, got {lam_weighted!r}')
        if lam_power is None:
            lam_power = 1. if lam_weighted else 0.
        check_number('lam_power', lam_power, low=0., low_inclusive=True)
        if not lam_weighted and lam_power != 0:
            raise ValueError(
                f'lam_weighted=False is lam_power=0; got lam_power='
                f'{lam_power}: give only lam_power')
        if self.mode == 'bce' and (decouple != 'both' or lam_thr != 1.
                                   or lam_power not in (0., 1.)):
            raise ValueError(
                'decouple, lam_power and lam_thr shape the regularizer of '
                'DM(CE); DM(BCE) rescales its targets with xi and power')
        self.eta = float(eta)
        self.pos_thr = float(pos_thr)
        self.max_mixed = max_mixed
        self.decouple = decouple
        self.lam_power = float(lam_power)
        self.lam_thr = float(lam_thr)
        self.xi = float(xi)
        self.power = float(power)
        self.label_smooth_val = float(label_smooth_val)
        self.num_classes = num_classes
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
        return self._reduce(reduce(operator.add, terms.values()), weight,
                            reduction, avg_factor)

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
        check_loss_inputs(cls_score, label, weight, self.num_classes)
        check_values = self.check_values
        if check_values is None:
            check_values = values_checkable(cls_score, label)
        if check_values:
            check_input_values(label, cls_score.size(1), weight)
        device_type = cls_score.device.type
        with torch.autocast(device_type=device_type, enabled=False) if \
                torch.is_autocast_enabled(device_type) else nullcontext():
            # At least float32: fp16/bf16 logits are upcast, float64 kept.
            logits = cls_score.to(
                torch.promote_types(cls_score.dtype, torch.float32))
            target = to_soft_target(label, logits.size(1), logits.dtype)
            if self.label_smooth_val:
                target = smooth_target(target, self.label_smooth_val,
                                       self.smoothing)
            terms = self._terms(logits, target)
        if check_values:
            check_finite_terms(cls_score, label, terms, self.max_mixed)
        if weight is not None:
            weight = weight.to(logits.dtype)
            if self.mode == 'bce':
                weight = weight[:, None]  # broadcast over the classes
        return terms, weight, reduction

    def _terms(self, logits: torch.Tensor,
               target: torch.Tensor) -> Dict[str, torch.Tensor]:
        """The per-sample (CE) or per-class (BCE) loss terms, unscaled."""
        if self.mode == 'bce':
            return dict(bce=F.binary_cross_entropy_with_logits(
                logits, bce_target(target, self.pos_thr, self.xi,
                                   self.power), reduction='none'))
        if self.eta == 0:
            return dict(mce=-(target * logits.log_softmax(dim=-1)).sum(-1))
        mce, dr = decoupled_mixup_ce(logits, target, self.pos_thr,
                                     self.max_mixed, self.decouple,
                                     self.lam_power, self.lam_thr)
        return dict(mce=mce, dr=self.eta * dr)

    def _reduce(self, value, weight, reduction, avg_factor) -> torch.Tensor:
        reduced = weight_reduce_loss(
            value, weight, reduction=reduction, avg_factor=avg_factor)
        return reduced if self.loss_weight == 1 else self.loss_weight * reduced

    def extra_repr(self) -> str:
        smoothing = (f'label_smooth_val={self.label_smooth_val} '
                     f'({self.smoothing}), ' if self.label_smooth_val else '')
        regularizer = (f'xi={self.xi}, power={self.power}, ' if self.mode ==
                       'bce' else
                       f'eta={self.eta}, decouple={self.decouple!r}, '
                       f'lam_power={self.lam_power}, lam_thr={self.lam_thr}, '
                       f'max_mixed={self.max_mixed}, ')
        return (f'mode={self.mode!r}, {regularizer}{smoothing}'
                f'pos_thr={self.pos_thr}, loss_weight={self.loss_weight}, '
                f'reduction={self.reduction!r}')
