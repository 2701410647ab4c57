"""CutMix: paste a box of the partner image; λ is the kept area.

Yun et al. "CutMix: Regularization Strategy to Train Strong Classifiers with
Localizable Features", ICCV 2019.
"""
import torch

from dm_plugin.registry import MIXERS
from ..base import BaseMixer
from .masks import box_mask, mix_with_mask, to_pixels


@MIXERS.register_module()
class CutMix(BaseMixer):
    """CutMix (Yun et al., ICCV 2019): a box of the partner image is pasted
    in; λ is corrected to the fraction of pixels actually kept, so the score
    weights always equal the pasted areas.

    The box is cut as in the authors' code and OpenMixup: sides
    ``int(side * sqrt(1 - lam))`` truncated to even, centred on a uniformly
    drawn pixel, clipped at the border (``lam ~ Beta(alpha, alpha)``).

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
        draws = self.share_draws(
            torch.rand(num, 2, device=inputs.device), index)
        pasted = box_mask(lam, height, width, *to_pixels(draws, height, width))
        return mix_with_mask(inputs, scores, index, ~pasted)
