"""GridMix: mix two images cell by cell on a random grid.

Baek et al. "GridMix: Strong regularization through local context mapping",
Pattern Recognition 109, 2021.
"""
import torch

from dm_plugin.registry import MIXERS
from ..base import BaseMixer
from .masks import check_interval, mix_with_mask


def grid_keep_mask(lam: torch.Tensor, cells: torch.Tensor,
                   noise: torch.Tensor, height: int,
                   width: int) -> torch.Tensor:
    """(N, 1, H, W) bool mask keeping ``round(lam * n**2)`` random cells of
    an ``n x n`` grid over each image.

    Args:
        lam (Tensor): (N,) fraction of cells to keep.
        cells (Tensor): (N,) integer grid side ``n`` of each sample.
        noise (Tensor): (N, G, G) uniform draws, ``G >= max(n)``; the kept
            cells are those with the smallest draws.
    """
    num, side, _ = noise.shape
    line = torch.arange(side, device=noise.device)
    on_grid = ((line[None, :, None] < cells[:, None, None]) &
               (line[None, None, :] < cells[:, None, None]))
    # Cells off the sample's grid sort last, so they are never picked.
    rank = noise.masked_fill(~on_grid, 2.).flatten(1).argsort(1).argsort(1)
    kept_cells = rank < (lam * cells.square()).round()[:, None]
    cell_row = torch.arange(height, device=noise.device) * cells[:, None]
    cell_col = torch.arange(width, device=noise.device) * cells[:, None]
    cell_id = (torch.div(cell_row, height, rounding_mode='floor')[:, :, None] *
               side +
               torch.div(cell_col, width, rounding_mode='floor')[:, None, :])
    return kept_cells.gather(1, cell_id.flatten(1)).view(
        num, 1, height, width)


@MIXERS.register_module()
class GridMix(BaseMixer):
    """GridMix (Baek et al., 2021): the image is split into an ``n x n`` grid
    (``n`` drawn from ``grid``); ``round(lam * n**2)`` random cells keep the
    sample and the others show its partner, with ``lam ~ Beta(alpha,
    alpha)``. λ is the kept pixel fraction (cells differ by a pixel when
    ``n`` does not divide H or W).

    The paper's auxiliary local-context-mapping head (patch-level labels) is
    a model change, not part of mixing, and is not included.

    Args:
        alpha (float): Beta concentration (> 0). Defaults to 1.0.
        mode (str): ``'batch'`` | ``'elem'`` | ``'pair'`` sharing of λ, the
            grid and its cells, see :class:`BaseMixer`. Defaults to
            ``'batch'``.
        grid (tuple[int]): Range ``(min, max)`` (inclusive, >= 1) of the grid
            side ``n``, drawn uniformly. Defaults to (2, 6).

    Shapes:
        inputs (N, C, H, W), scores (N, K) -> (N, C, H, W), (N, K).
    """

    def __init__(self, alpha: float = 1.0, mode: str = 'batch', grid=(2, 6)):
        super().__init__(alpha, mode)
        check_interval('grid', grid, low=1, integer=True)
        self.grid = tuple(int(n) for n in grid)

    def mix(self, inputs: torch.Tensor, scores: torch.Tensor):
        num, _, height, width = inputs.shape
        device = inputs.device
        index = self.sample_index(num, device)
        lam = self.sample_lam(index)
        low, high = self.grid
        cells = self.share_draws(
            torch.randint(low, high + 1, (num, ), device=device), index)
        noise = self.share_draws(
            torch.rand(num, high, high, device=device), index)
        keep = grid_keep_mask(lam, cells, noise, height, width)
        return mix_with_mask(inputs, scores, index, keep)

    def extra_repr(self) -> str:
        return f'{super().extra_repr()}, grid={self.grid}'
