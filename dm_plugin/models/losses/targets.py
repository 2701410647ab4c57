"""What the Decoupled Mixup loss reads off the targets: soft scores, label
smoothing, the mixed classes of each row and their regularizer weights, and
the DM(BCE) target.

A row's *mixed* (positive) classes are those whose score exceeds the row's
background level (its minimum: 0 for mixup scores, ``eps / C`` after label
smoothing) by more than ``pos_thr``. Every function works on whole batches:
no host syncs, no per-row loops.
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F

DECOUPLE_MODES = ('both', 'major', 'minor')
SMOOTHING_MODES = ('original', 'classy_vision', 'multi_label')


def to_soft_target(label: torch.Tensor, num_classes: int,
                   dtype: torch.dtype) -> torch.Tensor:
    """(N,) class indices or (N, C) scores -> (N, C) scores of ``dtype``."""
    if label.dim() == 1:
        return F.one_hot(label.long(), num_classes).to(dtype)
    return label.to(dtype)


def smooth_target(target: torch.Tensor, eps: float,
                  mode: str) -> torch.Tensor:
    """(N, C) scores smoothed as mmpretrain's ``LabelSmoothLoss`` smooths
    them for its ``mode``: ``'original'`` ``(1 - eps) s + eps / C``;
    ``'classy_vision'`` the same with ``eps / (1 + eps)``; ``'multi_label'``
    ``1 - eps`` on every class with a score above 0, ``eps`` elsewhere."""
    if mode == 'multi_label':
        return torch.full_like(target, eps).masked_fill_(target > 0, 1 - eps)
    if mode == 'classy_vision':
        eps = eps / (1 + eps)
    smoothed = target * (1 - eps)
    smoothed += eps / target.size(-1)
    return smoothed


def top_scores(target: torch.Tensor,
               k: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """(N, C) -> the (N, k) largest scores of each row and their classes, in
    no particular order (a sorted top-k was up to 6x slower on CPU).

    CPU top-k scans every score in scalar code. With 1000 or more classes
    the scores are first folded into 4 interleaved rows: a vectorised max
    over them leaves the top-k a quarter of the scores, and the top ``k``
    scores lie in the ``k`` columns of largest maxima (a column outside them
    has ``k`` larger ones above it). At (256, 1000): ~190 instead of
    ~310 us.
    """
    num, classes = target.shape
    if target.device.type != 'cpu' or classes < max(1000, 4 * k):
        return target.topk(k, dim=-1, sorted=False)
    if classes % 4:
        target = F.pad(target, (0, 4 - classes % 4), value=-torch.inf)
    folded = target.view(num, 4, -1)  # class r * (C / 4) + j at (r, j)
    _, column = folded.amax(dim=1).topk(k, dim=-1, sorted=False)
    candidates = folded.gather(2, column[:, None].expand(-1, 4, -1))
    score, position = candidates.flatten(1).topk(k, dim=-1, sorted=False)
    index = (position // k) * folded.size(2) + column.gather(1, position % k)
    return score, index


def mixed_classes(target: torch.Tensor, pos_thr: float,
                  max_mixed: Optional[int]
                  ) -> Tuple[torch.Tensor, ...]:
    """Each row's top ``K = max_mixed + 1`` scores (all C for ``None``): the
    slots that can hold its mixed classes, plus one that tells whether the
    row has more mixed classes than ``max_mixed``.

    Returns:
        tuple: (N, K) scores and class indices of the slots (distinct
        classes, in no particular order), (N, K) bool ``present`` (the slot
        holds a mixed class) and (N,) number of mixed classes of each row,
        counted up to K.
    """
    num_classes = target.size(-1)
    slots = num_classes if max_mixed is None else min(max_mixed + 1,
                                                      num_classes)
    score, index = top_scores(target, slots)
    present = score > target.amin(dim=-1, keepdim=True) + pos_thr
    return score, index, present, present.sum(dim=-1)


def decoupled_weights(score: torch.Tensor, present: torch.Tensor,
                      count: torch.Tensor, decouple: str, lam_power: float,
                      lam_thr: float) -> torch.Tensor:
    """(N, K) weight of each mixed class in the decoupled regularizer.

    A class with score ``s`` weighs ``1`` if ``s >= lam_thr``, else
    ``(s / lam_thr) ** lam_power`` (OpenMixup's ``lam_scale_mode='pow'``:
    ``lam_power`` 1 is the λ-weighted form, 0 the two-hot one). Only rows
    with two or more mixed classes are regularized, and of those only the
    classes ``decouple`` names: ``'both'`` all, ``'major'`` the row's top
    class (every class tied at the top), ``'minor'`` the others.

    Args:
        score (Tensor): (N, K) scores of the slots of :func:`mixed_classes`
            (for ``max_mixed=2``: a row's top three).
        present (Tensor): (N, K) bool, the slots that hold a mixed class.
        count (Tensor): (N,) number of mixed classes of each row.
    """
    selected = present & (count >= 2)[:, None]
    if decouple != 'both':
        major = score == score.amax(dim=-1, keepdim=True)
        selected &= major if decouple == 'major' else ~major
    weight = score.clamp(max=lam_thr)
    if lam_thr != 1:
        weight = weight / lam_thr
    if lam_power != 1:
        weight = weight.pow(lam_power)
    return torch.where(selected, weight, 0.)


def bce_target(target: torch.Tensor, pos_thr: float, xi: float,
               power: float) -> torch.Tensor:
    """DM(BCE) target: (N, C) -> (N, C) with ``1`` where ``s_k >= xi`` and
    ``(s_k / xi) ** power`` on the other mixed classes; every other class
    keeps the row's background level (0 unless the scores are smoothed)."""
    background = target.amin(dim=-1, keepdim=True)
    rescaled = torch.where(target >= xi, 1., (target / xi).pow(power))
    return torch.where(target > background + pos_thr, rescaled, background)
