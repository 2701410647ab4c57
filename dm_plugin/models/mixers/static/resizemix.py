"""ResizeMix: paste the whole partner image, shrunk, at a random place.

Qin et al. "ResizeMix: Mixing Data with Preserved Object Information and True
Labels", arXiv:2012.11101, 2020.
"""
import torch
import torch.nn.functional as F

from dm_plugin.registry import MIXERS
from dm_plugin.validation import check_choice
from ..base import BaseMixer
from .masks import (box_span, check_interval, mix_with_mask, span_mask,
                    to_pixels)

INTERPOLATIONS = ('nearest', 'bilinear', 'bicubic')


def resize_positions(start: torch.Tensor, end: torch.Tensor, size: int,
                     interpolation: str, dtype: torch.dtype) -> torch.Tensor:
    """(N, size) position, in [0, 1] of the partner's side, that each pixel
    of a box ``[start, end)`` shows when the partner is resized to the box
    by ``F.interpolate``: the centre of the source pixel ``floor(i * size /
    length)`` for ``'nearest'`` (its legacy rule, in float32), the pixel's
    own centre otherwise (``align_corners=False``)."""
    length = (end - start).clamp(min=1).to(dtype)[:, None]
    offset = torch.arange(size, device=start.device, dtype=dtype) - \
        start.to(dtype)[:, None]
    if interpolation == 'nearest':
        scale = size / length.float()
        source = (offset.float() * scale).floor().clamp(0, size - 1)
        return ((source + 0.5) / size).to(dtype)
    return (offset + 0.5) / length


@MIXERS.register_module()
class ResizeMix(BaseMixer):
    """ResizeMix (Qin et al., 2020): the partner image is resized into a box
    and pasted whole, so its object is never cut away; λ is the kept area
    ``1 - h*w / (H*W)``.

    As OpenMixup's configs run it (``use_alpha=True``): the box's side ratio
    ``tau ~ Beta(alpha, alpha)``, redrawn from ``U(scale)`` when it falls
    outside ``scale``; sides ``int(side * tau)`` truncated to even, centred
    on a uniformly drawn pixel and clipped at the border (the whole partner
    is squeezed into the clipped box); nearest-neighbour resizing.
    ``use_alpha=False`` is the paper's ``tau ~ U(scale)``.

    Args:
        alpha (float): Beta concentration (> 0) of ``tau`` (with
            ``use_alpha``). Defaults to 1.0.
        mode (str): ``'batch'`` | ``'elem'`` | ``'pair'`` sharing of the box,
            see :class:`BaseMixer`. Defaults to ``'batch'``.
        scale (tuple[float]): Range ``(min, max)`` in (0, 1] of ``tau``.
            Defaults to (0.1, 0.8), the paper's.
        use_alpha (bool): Draw ``tau`` from Beta(alpha, alpha) (OpenMixup's
            configs), else uniformly in ``scale`` (the paper).
            Defaults to True.
        interpolation (str): ``'nearest'`` | ``'bilinear'`` | ``'bicubic'``
            resizing, as ``F.interpolate`` (``align_corners=False``).
            Defaults to ``'nearest'`` (OpenMixup's).

    Shapes:
        inputs (N, C, H, W), scores (N, K) -> (N, C, H, W), (N, K).
    """

    def __init__(self,
                 alpha: float = 1.0,
                 mode: str = 'batch',
                 scale=(0.1, 0.8),
                 use_alpha: bool = True,
                 interpolation: str = 'nearest'):
        super().__init__(alpha, mode)
        check_interval('scale', scale, low=0., high=1.)
        check_choice('interpolation', interpolation, INTERPOLATIONS)
        if not isinstance(use_alpha, bool):
            raise TypeError(f'use_alpha must be a bool, got {use_alpha!r}')
        self.scale = tuple(float(s) for s in scale)
        self.use_alpha = use_alpha
        self.interpolation = interpolation

    def sample_tau(self, index: torch.Tensor) -> torch.Tensor:
        """(N,) side ratio of the pasted box, shared as ``mode`` says."""
        low, high = self.scale
        uniform = self.share_draws(
            low + (high - low) * torch.rand(index.numel(),
                                            device=index.device), index)
        if not self.use_alpha:
            return uniform
        tau = self.sample_lam(index)
        return torch.where((tau < low) | (tau > high), uniform, tau)

    def mix(self, inputs: torch.Tensor, scores: torch.Tensor):
        num, _, height, width = inputs.shape
        index = self.sample_index(num, inputs.device)
        tau = self.sample_tau(index)
        draws = self.share_draws(
            torch.rand(num, 2, device=inputs.device), index)
        center_row, center_col = to_pixels(draws, height, width)
        top, bottom = box_span(tau, height, center_row)
        left, right = box_span(tau, width, center_col)
        inside = (span_mask(top, bottom, height)[:, :, None]
                  & span_mask(left, right, width)[:, None, :])
        rows = resize_positions(top, bottom, height, self.interpolation,
                                inputs.dtype)
        cols = resize_positions(left, right, width, self.interpolation,
                                inputs.dtype)
        # grid_sample (align_corners=False) maps [-1, 1] onto the whole
        # partner image.
        grid = torch.stack(
            torch.broadcast_tensors(cols[:, None, :], rows[:, :, None]),
            dim=-1) * 2 - 1
        resized = F.grid_sample(
            inputs[index],
            grid,
            mode=self.interpolation,
            padding_mode='border',
            align_corners=False)
        return mix_with_mask(inputs, scores, index, ~inside[:, None],
                             pasted=resized)

    def extra_repr(self) -> str:
        return (f'{super().extra_repr()}, scale={self.scale}, '
                f'use_alpha={self.use_alpha}, '
                f'interpolation={self.interpolation!r}')
