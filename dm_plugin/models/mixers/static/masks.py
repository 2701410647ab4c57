"""What the cut- and mask-based mixers share: boxes, mask mixing, ranges.

A *keep mask* is (N, 1, H, W): ``True`` (or weight 1.0) where a sample keeps
its own pixel, ``False`` (0.0) where its partner's content shows. The mixed
scores weigh each sample by the mean of its keep mask, so λ always equals the
area (or, for soft masks, the mask weight) actually kept.
"""
from numbers import Real
from typing import Optional, Sequence, Tuple

import torch

from dm_plugin.validation import check_number
from ..base import mix_scores


def box_span(ratio: torch.Tensor, size: int,
             center: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """(N,) start and end of boxes along one axis of ``size`` pixels, as
    OpenMixup (and the CutMix authors' code) cut them: side
    ``int(size * ratio)`` truncated to even, centred on the (N,) integer
    pixels ``center``, clipped at the border."""
    half = torch.div((size * ratio).floor(), 2, rounding_mode='floor')
    return (center - half).clamp(0, size), (center + half).clamp(0, size)


def span_mask(start: torch.Tensor, end: torch.Tensor,
              size: int) -> torch.Tensor:
    """(N, size) bool: the pixels in ``[start, end)`` of each row."""
    pixels = torch.arange(size, device=start.device)
    return (pixels >= start[:, None]) & (pixels < end[:, None])


def box_mask(lam: torch.Tensor, height: int, width: int,
             center_row: torch.Tensor,
             center_col: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) bool mask of CutMix boxes of sides ``sqrt(1 - lam)``
    times the image's (see :func:`box_span`), centred on the (N,) integer
    pixels ``(center_row, center_col)``."""
    cut = (1 - lam).clamp(min=0).sqrt()
    rows = span_mask(*box_span(cut, height, center_row), height)
    cols = span_mask(*box_span(cut, width, center_col), width)
    return (rows[:, :, None] & cols[:, None, :])[:, None]


def to_pixels(draws: torch.Tensor, height: int,
              width: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """(N,) rows and columns of an H x W image from (N, 2) uniform draws in
    [0, 1): each pixel equally likely."""
    return (draws[:, 0] * height).floor(), (draws[:, 1] * width).floor()


def mix_with_mask(inputs: torch.Tensor,
                  scores: torch.Tensor,
                  index: torch.Tensor,
                  keep: torch.Tensor,
                  pasted: Optional[torch.Tensor] = None):
    """Show ``pasted`` (default: each sample's partner ``inputs[index]``)
    where ``keep`` is off; weigh the scores by the kept area.

    Args:
        inputs (Tensor): (N, C, H, W) images.
        scores (Tensor): (N, K) float scores.
        index (Tensor): (N,) partner of each sample.
        keep (Tensor): (N, 1, H, W) bool, or float weights in [0, 1], of each
            sample's own pixels.
        pasted (Tensor, optional): (N, C, H, W) content shown where ``keep``
            is off (e.g. a resized partner).

    Returns:
        tuple: (N, C, H, W) mixed images, (N, K) scores mixed with
        λ = mean of ``keep``.
    """
    if pasted is None:
        pasted = inputs[index]
    if keep.dtype == torch.bool:
        mixed = torch.where(keep, inputs, pasted)
    else:
        mixed = torch.lerp(pasted, inputs, keep.to(inputs.dtype))
    kept = keep.flatten(1).float().mean(dim=1)
    return mixed, mix_scores(scores, kept, index)


def check_interval(name: str,
                   value: Sequence,
                   low: float,
                   high: Optional[float] = None,
                   integer: bool = False) -> None:
    """Raise naming ``name`` unless ``value`` is a pair ``(a, b)`` of reals
    (of ints with ``integer``) with ``low <= a <= b`` (``low < a`` for reals)
    and ``b <= high``."""
    kind = int if integer else Real
    if (not isinstance(value, Sequence) or len(value) != 2 or any(
            isinstance(v, bool) or not isinstance(v, kind) for v in value)):
        raise TypeError(f'{name} must be a pair (min, max) of '
                        f'{"integers" if integer else "numbers"}, got '
                        f'{value!r}')
    check_number(f'{name}[0]', value[0], low=low, high=high,
                 low_inclusive=integer)
    check_number(f'{name}[1]', value[1], low=low, high=high,
                 low_inclusive=integer)
    if value[0] > value[1]:
        raise ValueError(f'{name} must be (min, max) with min <= max, got '
                         f'{tuple(value)}')
