"""AttentiveMix: paste the partner's most attended grid cells.

Walawalkar et al. "Attentive CutMix: An Enhanced Data Augmentation Approach
for Deep Learning Based Image Classification", ICASSP 2020.
"""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from dm_plugin.registry import MIXERS
from dm_plugin.validation import check_int
from ..base import BaseMixer
from ..static.masks import mix_with_mask
from .utils import backbone_feature_map


def grid_cells(size: int, cells: int, device: torch.device) -> torch.Tensor:
    """(size,) grid cell of each pixel row (or column) when ``size`` pixels
    are cut into ``cells`` near-equal cells (sizes differ by at most 1)."""
    return torch.arange(size, device=device) * cells // size


@MIXERS.register_module()
class AttentiveMix(BaseMixer):
    """Attentive CutMix (Walawalkar et al., ICASSP 2020): the image is cut
    into a ``grid_size x grid_size`` grid, and the ``top_k`` cells where the
    partner's attention is highest are pasted from the partner at the same
    places. λ is the area kept (pixel-exact, cells may differ by one pixel).

    The paper takes the attention from the 7x7 last feature map of a
    separate ImageNet-pretrained ResNet-50; here it is the channel mean of
    the classifier's own last backbone feature map (one extra forward pass
    in eval mode, no gradients), resized bilinearly to the grid. Defaults
    are the paper's 7x7 grid and 6 cells.

    Args:
        alpha (float): Beta concentration (> 0) of λ, used only when
            ``top_k`` is None. Defaults to 1.0.
        mode (str): ``'batch'`` | ``'elem'`` | ``'pair'`` sharing of λ and
            partners, see :class:`BaseMixer`. Defaults to ``'batch'``.
        grid_size (int, optional): Cells per side (>= 1); ``None``: the
            feature map's own resolution. Defaults to 7.
        top_k (int, optional): Cells pasted (>= 1, at most the grid's);
            ``None``: ``round((1 - lam) * cells)`` with ``lam ~ Beta(alpha,
            alpha)``, at least 1. Defaults to 6.

    Shapes:
        inputs (N, C, H, W), scores (N, K) -> (N, C, H, W), (N, K).
    """

    needs_model = True

    def __init__(self,
                 alpha: float = 1.0,
                 mode: str = 'batch',
                 grid_size: Optional[int] = 7,
                 top_k: Optional[int] = 6):
        super().__init__(alpha, mode)
        if grid_size is not None:
            check_int('grid_size', grid_size, 1)
        if top_k is not None:
            check_int('top_k', top_k, 1)
            if grid_size is not None and top_k > grid_size**2:
                raise ValueError(f'top_k={top_k} exceeds the {grid_size**2} '
                                 f'cells of a {grid_size}x{grid_size} grid')
        self.grid_size = grid_size
        self.top_k = top_k

    def attention(self, model: nn.Module,
                  inputs: torch.Tensor) -> torch.Tensor:
        """(N, gh, gw) channel mean of the last backbone feature map,
        resized to ``grid_size x grid_size`` when that is set."""
        feat = backbone_feature_map(model, inputs).float().mean(
            dim=1, keepdim=True)
        if self.grid_size is not None:
            feat = F.interpolate(
                feat, size=(self.grid_size, self.grid_size), mode='bilinear',
                align_corners=False, antialias=True)
        return feat[:, 0]

    def mix(self, inputs: torch.Tensor, scores: torch.Tensor,
            model: nn.Module):
        num, _, height, width = inputs.shape
        index = self.sample_index(num, inputs.device)
        attention = self.attention(model, inputs)[index]
        grid = attention.shape[1:]
        cells = grid.numel()
        if self.top_k is None:
            lam = self.sample_lam(index)
            top_k = ((1 - lam) * cells).round().clamp(min=1, max=cells)
        elif self.top_k > cells:
            raise ValueError(f'top_k={self.top_k} exceeds the {cells} cells '
                             f'of the {grid[0]}x{grid[1]} feature map')
        else:
            top_k = torch.full((num, ), self.top_k, device=inputs.device)
        order = attention.flatten(1).argsort(
            dim=1, descending=True, stable=True)
        rank = torch.empty_like(order).scatter_(
            1, order,
            torch.arange(cells, device=inputs.device).expand_as(order))
        pasted = (rank < top_k[:, None]).view(num, *grid)
        rows = grid_cells(height, grid[0], inputs.device)
        cols = grid_cells(width, grid[1], inputs.device)
        keep = ~pasted[:, rows][:, :, cols]
        return mix_with_mask(inputs, scores, index, keep[:, None])

    def extra_repr(self) -> str:
        return (f'{super().extra_repr()}, grid_size={self.grid_size}, '
                f'top_k={self.top_k}')
