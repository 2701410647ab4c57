"""SmoothMix: blend the partner in through a soft-edged Gaussian mask.

Lee et al. "SmoothMix: a Simple Yet Effective Data Augmentation to Train
Robust Classifiers", CVPR Workshops 2020.
"""
import torch

from dm_plugin.registry import MIXERS
from ..base import BaseMixer
from .masks import check_interval, mix_with_mask


@MIXERS.register_module()
class SmoothMix(BaseMixer):
    """SmoothMix (Lee et al., CVPRW 2020), circular mask: the partner shows
    with weight ``G = exp(-d**2 / (2 sigma**2))`` around a centre, so the
    mixed image has no strong edges; λ is the mean kept weight
    ``1 - mean(G)``.

    As in the paper and OpenMixup: ``sigma ~ U(sigma)`` times the image side
    (of H vertically and W horizontally, so the blob stretches with
    non-square images), the centre on a uniformly drawn pixel corner. The
    label weights follow the mask; OpenMixup gives the sample's own class
    the partner's share ``mean(G)`` instead (docs/fidelity.md).

    Args:
        alpha (float): Accepted for the mixer interface (> 0); no effect,
            as in OpenMixup: the mask, not a Beta draw, sets λ.
            Defaults to 1.0.
        mode (str): ``'batch'`` | ``'elem'`` | ``'pair'`` sharing of the mask,
            see :class:`BaseMixer`. Defaults to ``'batch'``.
        sigma (tuple[float]): Range ``(min, max)`` (> 0) of the Gaussian's
            spread as a fraction of the image side. Defaults to
            (0.25, 0.5).

    Shapes:
        inputs (N, C, H, W), scores (N, K) -> (N, C, H, W), (N, K).
    """

    def __init__(self,
                 alpha: float = 1.0,
                 mode: str = 'batch',
                 sigma=(0.25, 0.5)):
        super().__init__(alpha, mode)
        check_interval('sigma', sigma, low=0.)
        self.sigma = tuple(float(s) for s in sigma)

    def mix(self, inputs: torch.Tensor, scores: torch.Tensor):
        num, _, height, width = inputs.shape
        device = inputs.device
        index = self.sample_index(num, device)
        low, high = self.sigma
        # At least float32; float64 inputs get a float64 mask.
        dtype = torch.promote_types(inputs.dtype, torch.float32)
        draws = self.share_draws(
            torch.rand(num, 3, device=device, dtype=dtype), index)
        spread = (low + (high - low) * draws[:, :1])
        # Centre on a pixel corner: k / side for k uniform in [0, side).
        center_y = (draws[:, 1:2] * height).floor() / height
        center_x = (draws[:, 2:] * width).floor() / width
        pixels = torch.arange(max(height, width), device=device, dtype=dtype)
        rows = (pixels[:height] + 0.5) / height
        cols = (pixels[:width] + 0.5) / width
        dist_y = ((rows - center_y) / spread).square()  # (N, H)
        dist_x = ((cols - center_x) / spread).square()  # (N, W)
        shown = torch.exp(-0.5 * (dist_y[:, :, None] + dist_x[:, None, :]))
        return mix_with_mask(inputs, scores, index, 1 - shown[:, None])

    def extra_repr(self) -> str:
        return f'{super().extra_repr()}, sigma={self.sigma}'
