"""CutMix: paste a box of the partner image; λ is the kept area.

Yun et al. "CutMix: Regularization Strategy to Train Strong Classifiers with
Localizable Features", ICCV 2019.
"""
import torch

from dm_plugin.registry import MIXERS
from ..base import BaseMixer, mix_scores


def box_mask(lam: torch.Tensor, height: int, width: int, center_y: torch.Tensor,
             center_x: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) bool mask of boxes of area ``(1 - lam) * H * W`` (before
    clipping to the image), centred at the given (N,) points in [0, 1)."""
    cut = (1 - lam).clamp(min=0).sqrt()
    half_h = (cut * height / 2)[:, None]
    half_w = (cut * width / 2)[:, None]
    cy = (center_y * height)[:, None]
    cx = (center_x * width)[:, None]
    rows = torch.arange(height, device=lam.device) + 0.5
    cols = torch.arange(width, device=lam.device) + 0.5
    in_rows = (rows >= (cy - half_h).round()) & (rows < (cy + half_h).round())
    in_cols = (cols >= (cx - half_w).round()) & (cols < (cx + half_w).round())
    return (in_rows[:, :, None] & in_cols[:, None, :])[:, None]


@MIXERS.register_module()
class CutMix(BaseMixer):
    """CutMix (Yun et al., ICCV 2019): a box of the partner image is pasted
    in; λ is corrected to the fraction of pixels actually kept, so the score
    weights always equal the pasted areas (boxes are clipped at the border).

    Args:
        alpha (float): Beta concentration (> 0). Defaults to 1.0.
        mode (str): ``'batch'`` | ``'elem'`` | ``'pair'`` sharing of λ and of
            the box, see :class:`BaseMixer`. Defaults to ``'batch'``.

    Shapes:
        inputs (N, C, H, W), scores (N, K) -> (N, C, H, W), (N, K).
    """

    def mix(self, inputs: torch.Tensor, scores: torch.Tensor):
        num, _, height, width = inputs.shape
        index = self.sample_index(num, inputs.device)
        lam = self.sample_lam(index)
        centers = self.share_draws(
            torch.rand(num, 2, device=inputs.device), index)
        pasted = box_mask(lam, height, width, centers[:, 0], centers[:, 1])
        mixed = torch.where(pasted, inputs[index], inputs)
        kept = 1 - pasted.flatten(1).float().mean(dim=1)
        return mixed, mix_scores(scores, kept, index)
