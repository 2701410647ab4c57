"""GridMix: the partner shows through a regular grid of holes.

Baek et al. "GridMix: Strong regularization through local context mapping",
Pattern Recognition 109, 2021; the grid as GridMixup
(github.com/IlyaDobrynin/GridMixup) and OpenMixup cut it.
"""
import torch

from dm_plugin.registry import MIXERS
from ..base import BaseMixer
from .masks import check_interval, mix_with_mask


def uniform(interval, num: int, device: torch.device) -> torch.Tensor:
    """(N,) draws from ``U(interval)``."""
    low, high = interval
    return low + (high - low) * torch.rand(num, device=device)


def hole_span(position: torch.Tensor, extent: torch.Tensor,
              period: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
    """(N, L) bool: whether each pixel, at ``position`` (N, L) from the
    region's start, lies in the (N,) ``extent``-long region and in a hole:
    the first ``hole`` pixels of every ``period``."""
    return ((position >= 0) & (position < extent[:, None]) &
            (position.remainder(period[:, None]) < hole[:, None]))


def grid_mask(height: int, width: int, ratio: torch.Tensor,
              cells: torch.Tensor, hole_aspect: torch.Tensor,
              area: torch.Tensor, aspect: torch.Tensor, place_y: torch.Tensor,
              place_x: torch.Tensor) -> torch.Tensor:
    """(N, H, W) bool: where the partner shows, GridMixup's grid of holes.

    Args (all (N,)): ``ratio`` the holes' side as a fraction of their
    cell's; ``cells`` the number of cells per row; ``hole_aspect`` the
    cells' height / width; ``area`` and ``aspect`` the region's area (a
    fraction of the image) and height / width; ``place_y``/``place_x`` in
    [0, 1) its position.
    """
    region_w = ((height * width * area).floor() / aspect).sqrt().floor()
    region_h = (region_w * aspect).floor()
    # int() of OpenMixup: toward zero when the region overhangs (< 0).
    top = ((height - region_h) * place_y).trunc()
    left = ((width - region_w) * place_x).trunc()
    cell_w = (region_w / cells).ceil().clamp(min=1)
    cell_h = (cell_w * hole_aspect).floor().clamp(min=1)
    # At least 1 pixel, at most the cell side - 1 (0 in 1-pixel cells).
    hole_w = torch.minimum((cell_w * ratio).floor().clamp(min=1), cell_w - 1)
    hole_h = torch.minimum((cell_h * ratio).floor().clamp(min=1), cell_h - 1)
    rows = torch.arange(height, device=ratio.device) - top[:, None]
    cols = torch.arange(width, device=ratio.device) - left[:, None]
    return (hole_span(rows, region_h, cell_h, hole_h)[:, :, None]
            & hole_span(cols, region_w, cell_w, hole_w)[:, None, :])


@MIXERS.register_module()
class GridMix(BaseMixer):
    """GridMix (Baek et al., 2021) as OpenMixup's benchmark runs it
    (GridMixup): a cut region of area ``U(cut_area_ratio)`` of the image and
    aspect ``U(cut_aspect_ratio)`` is placed uniformly (it may overhang the
    border and is clipped); it is tiled with ``n`` (``n`` uniform in
    ``n_holes``) square-ish cells per row, and the partner shows through a
    hole at the top-left of each cell, of sides ``int(cell * sqrt(1 -
    lam))`` (at least 1 pixel, at most the cell side - 1), with ``lam ~
    Beta(alpha, alpha)``. λ is the kept area.

    The paper's auxiliary local-context-mapping head (patch-level labels) is
    a model change, not part of mixing, and is not included.

    Args:
        alpha (float): Beta concentration (> 0). Defaults to 1.0.
        mode (str): ``'batch'`` | ``'elem'`` | ``'pair'`` sharing of λ and of
            the grid, see :class:`BaseMixer`. Defaults to ``'batch'``.
        n_holes (tuple[int]): Range ``(min, max)`` (inclusive, >= 1) of the
            number of cells per row of the region. Defaults to (2, 6).
        hole_aspect_ratio (tuple[float]): Range of the cells' height / width
            (> 0). Defaults to (1., 1.).
        cut_area_ratio (tuple[float]): Range in (0, 1] of the region's area
            as a fraction of the image. Defaults to (0.5, 1.).
        cut_aspect_ratio (tuple[float]): Range of the region's height /
            width (> 0). Defaults to (0.5, 2.).

    Shapes:
        inputs (N, C, H, W), scores (N, K) -> (N, C, H, W), (N, K).
    """

    def __init__(self,
                 alpha: float = 1.0,
                 mode: str = 'batch',
                 n_holes=(2, 6),
                 hole_aspect_ratio=(1., 1.),
                 cut_area_ratio=(0.5, 1.),
                 cut_aspect_ratio=(0.5, 2.)):
        super().__init__(alpha, mode)
        check_interval('n_holes', n_holes, low=1, integer=True)
        check_interval('hole_aspect_ratio', hole_aspect_ratio, low=0.)
        check_interval('cut_area_ratio', cut_area_ratio, low=0., high=1.)
        check_interval('cut_aspect_ratio', cut_aspect_ratio, low=0.)
        self.n_holes = tuple(int(n) for n in n_holes)
        self.hole_aspect_ratio = tuple(float(r) for r in hole_aspect_ratio)
        self.cut_area_ratio = tuple(float(r) for r in cut_area_ratio)
        self.cut_aspect_ratio = tuple(float(r) for r in cut_aspect_ratio)

    def mix(self, inputs: torch.Tensor, scores: torch.Tensor):
        num, _, height, width = inputs.shape
        device = inputs.device
        index = self.sample_index(num, device)
        ratio = (1 - self.sample_lam(index)).clamp(min=0).sqrt()
        draws = self.share_draws(
            torch.stack([
                torch.randint(self.n_holes[0], self.n_holes[1] + 1, (num, ),
                              device=device).float(),
                uniform(self.hole_aspect_ratio, num, device),
                uniform(self.cut_area_ratio, num, device),
                uniform(self.cut_aspect_ratio, num, device),
                torch.rand(num, device=device),
                torch.rand(num, device=device)
            ], dim=1), index)
        shown = grid_mask(height, width, ratio, *draws.unbind(1))
        return mix_with_mask(inputs, scores, index, ~shown[:, None])

    def extra_repr(self) -> str:
        return (f'{super().extra_repr()}, n_holes={self.n_holes}, '
                f'hole_aspect_ratio={self.hole_aspect_ratio}, '
                f'cut_area_ratio={self.cut_area_ratio}, '
                f'cut_aspect_ratio={self.cut_aspect_ratio}')
