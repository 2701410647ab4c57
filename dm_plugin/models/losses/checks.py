"""Checks of the Decoupled Mixup loss's arguments and inputs; every error
names the argument, the shape or the value at fault.

:func:`resolve_objective` also gives the keys a loss dict inherits from
mmpretrain's ``CrossEntropyLoss`` and ``LabelSmoothLoss`` (when a config
swaps the loss ``type`` of a stock base, MMEngine merges the base's other
keys in) their meaning, or refuses them.
"""
import math
import operator
from functools import reduce
from typing import Dict, Optional, Tuple

import torch

from dm_plugin.validation import check_choice, check_number
from .targets import SMOOTHING_MODES

LOSS_MODES = ('ce', 'bce')


def resolve_objective(mode: Optional[str], use_sigmoid: Optional[bool],
                      use_soft: Optional[bool], label_smooth_val: float,
                      class_weight, pos_weight) -> Tuple[str, str]:
    """``(loss, smoothing)``: ``'ce'`` or ``'bce'``, and the
    ``LabelSmoothLoss`` mode that smooths the targets.

    ``mode`` is ``'ce'``/``'bce'`` or one of ``LabelSmoothLoss``'s modes:
    ``'original'``/``'classy_vision'`` mean DM(CE) with that smoothing,
    ``'multi_label'`` DM(BCE) with it. ``use_sigmoid=True`` (of
    ``CrossEntropyLoss`` or ``LabelSmoothLoss``) means DM(BCE);
    ``use_soft=True`` is what DM(CE) does anyway. Conflicting keys and keys
    DM cannot honour (``class_weight``, ``pos_weight``) raise.
    """
    check_choice('mode', mode, (None, ) + LOSS_MODES + SMOOTHING_MODES)
    for name, value in (('use_sigmoid', use_sigmoid), ('use_soft', use_soft)):
        if value is not None and not isinstance(value, bool):
            raise TypeError(f'{name} must be a bool or None, got {value!r}')
    for name, value in (('class_weight', class_weight),
                        ('pos_weight', pos_weight)):
        if value is not None:
            raise ValueError(
                f'DecoupledMixupLoss does not support {name} (got {value!r}): '
                'remove it from the loss dict (a stock base config may have '
                'brought it in)')
    check_number('label_smooth_val', label_smooth_val, low=0.,
                 low_inclusive=True)
    if label_smooth_val >= 1:
        raise ValueError(
            f'label_smooth_val must be < 1, got {label_smooth_val}')
    default = 'bce' if mode in ('bce', 'multi_label') else 'ce'
    loss = {None: default, True: 'bce', False: 'ce'}[use_sigmoid]
    if mode in ('ce', 'bce', 'multi_label') and loss != default:
        raise ValueError(
            f'mode={mode!r} contradicts use_sigmoid={use_sigmoid}: mode '
            f"{mode!r} is {'BCE' if default == 'bce' else 'softmax CE'}")
    if use_soft and loss == 'bce':
        raise ValueError('use_soft=True (softmax cross-entropy) contradicts '
                         'DM(BCE) (use_sigmoid=True or mode '
                         f"{mode!r}); drop one of them")
    smoothing = mode if mode in SMOOTHING_MODES else 'original'
    return loss, smoothing


def check_loss_inputs(cls_score: torch.Tensor,
                      label: torch.Tensor,
                      weight: Optional[torch.Tensor] = None,
                      num_classes: Optional[int] = None) -> None:
    """Raise a ``TypeError``/``ValueError`` naming a wrong type or shape.

    Args:
        cls_score (Tensor): Logits, (N, C), floating point, N >= 1.
        label (Tensor): (N,) integer class indices or (N, C) soft scores.
        weight (Tensor, optional): Per-sample weights, (N,).
        num_classes (int, optional): C the loss was configured for.
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
    num_samples, classes = cls_score.shape
    if num_samples == 0:
        raise ValueError('cls_score holds no samples (N=0): '
                         'DecoupledMixupLoss needs a non-empty batch')
    if num_classes is not None and classes != num_classes:
        raise ValueError(f'num_classes mismatch: the loss was built with '
                         f'num_classes={num_classes} but cls_score has '
                         f'{classes} classes')
    if label.dim() == 1:
        if label.is_floating_point():
            raise TypeError('a 1-D label holds class indices and must be an '
                            f'integer tensor, got {label.dtype}')
    elif label.dim() == 2:
        if not label.is_floating_point():
            raise TypeError('a 2-D label holds soft scores and must be a '
                            f'floating-point tensor, got {label.dtype}')
        if label.size(1) != classes:
            raise ValueError(
                f'num_classes mismatch: label scores have {label.size(1)} '
                f'classes but cls_score has {classes}')
    else:
        raise ValueError('label must be (N,) class indices or (N, C) scores, '
                         f'got shape {tuple(label.shape)}')
    if label.size(0) != num_samples:
        raise ValueError(f'shape mismatch: cls_score has {num_samples} '
                         f'samples but label has {label.size(0)}')
    if weight is not None and tuple(weight.shape) != (num_samples, ):
        raise ValueError(f'weight must have shape ({num_samples},), got '
                         f'{tuple(weight.shape)}')
    if label.requires_grad:
        raise ValueError('DecoupledMixupLoss gives no gradient to the '
                         'targets; detach them')


def check_input_values(label: torch.Tensor, num_classes: int,
                       weight: Optional[torch.Tensor]) -> None:
    """Raise a ``ValueError`` for class indices out of range, negative
    scores, or non-finite / negative per-sample weights (host syncs: CPU
    only)."""
    if label.dim() == 1:
        if ((label < 0) | (label >= num_classes)).any():
            raise ValueError(
                f'label has class indices outside [0, {num_classes}): '
                'num_classes of the head does not match the data')
    elif label.amin() < 0:
        raise ValueError('label scores must be non-negative')
    if weight is not None and not (torch.isfinite(weight).all()
                                   and weight.amin() >= 0):
        raise ValueError('weight must hold finite non-negative per-sample '
                         'weights; it holds NaN, Inf or negative values')


def check_finite_terms(cls_score: torch.Tensor, label: torch.Tensor,
                       terms: Dict[str, torch.Tensor], max_mixed) -> None:
    """Raise a ``ValueError`` naming why the unreduced loss ``terms`` are
    not finite; the inputs are only scanned when they are not."""
    total = reduce(operator.add, terms.values())
    # A finite sum has finite summands; a sum that overflowed gets a look at
    # each of them.
    if math.isfinite(total.sum().item()) or torch.isfinite(total).all():
        return
    if not torch.isfinite(cls_score).all():
        raise ValueError('cls_score contains NaN or Inf logits')
    if not torch.isfinite(label).all():
        raise ValueError('label scores contain NaN or Inf')
    if 'dr' in terms and torch.isnan(terms['dr']).any():
        raise ValueError(
            f'a row mixes more than max_mixed={max_mixed} classes; set '
            'DecoupledMixupLoss(max_mixed=k) for k-way mixing, or None')
    largest_logit = cls_score.detach().abs().amax().item()
    largest_score = label.detach().abs().amax().item() \
        if label.is_floating_point() else 1.
    dtype = torch.promote_types(cls_score.dtype, torch.float32)
    if largest_logit > torch.finfo(dtype).max / 4:
        cause = (f'logits up to {largest_logit:.3g} in magnitude: the loss, '
                 f'a difference of logits, exceeds the range of {dtype}')
    elif largest_score > 1:
        cause = (f'label scores up to {largest_score:.3g}: scores far '
                 'larger than 1?')
    else:
        cause = (f'logits up to {largest_logit:.3g} in magnitude, label '
                 f'scores up to {largest_score:.3g}')
    raise ValueError('the loss overflowed although its inputs are finite: '
                     f'{cause}')
