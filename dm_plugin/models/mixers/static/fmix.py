"""FMix: masks cut from thresholded low-frequency Fourier noise.

Harris et al. "FMix: Enhancing Mixed Sample Data Augmentation",
arXiv:2002.12047, 2020.
"""
import torch

from dm_plugin.registry import MIXERS
from dm_plugin.validation import check_number
from ..base import BaseMixer
from .masks import mix_with_mask


def low_frequency_images(noise: torch.Tensor, height: int, width: int,
                         decay_power: float) -> torch.Tensor:
    """(N, H, W) real images whose spectrum is ``noise`` (N, H, W//2+1, 2)
    (real, imaginary parts) scaled by ``1 / f**decay_power``."""
    freq_y = torch.fft.fftfreq(height, device=noise.device)[:, None]
    freq_x = torch.fft.rfftfreq(width, device=noise.device)[None, :]
    freq = (freq_y.square() + freq_x.square()).sqrt()
    scale = freq.clamp(min=1. / max(height, width)).pow(-decay_power)
    spectrum = torch.view_as_complex(noise.float().contiguous()) * scale
    return torch.fft.irfft2(spectrum, s=(height, width))


def top_fraction_mask(images: torch.Tensor, lam: torch.Tensor,
                      max_soft: float) -> torch.Tensor:
    """(N, 1, H, W) mask over the top ``lam`` fraction of each image's
    pixels by value: bool for ``max_soft=0``, else float weights that fall
    linearly from 1 to 0 over a band of ``2 * min(max_soft, lam, 1 - lam)``
    of the pixels around the threshold."""
    num, height, width = images.shape
    flat = images.flatten(1)
    order = flat.argsort(dim=1, descending=True)
    rank = torch.empty_like(order).scatter_(
        1, order,
        torch.arange(flat.size(1), device=flat.device).expand_as(order))
    kept = lam[:, None] * flat.size(1)  # pixels to keep, (N, 1)
    if max_soft == 0:
        mask = rank < kept.round()
    else:
        soft = torch.minimum(lam, 1 - lam).clamp(max=max_soft)[:, None]
        band = (2 * soft * flat.size(1)).clamp(min=1)
        mask = ((kept - rank - 0.5) / band + 0.5).clamp(0, 1)
    return mask.view(num, 1, height, width)


@MIXERS.register_module()
class FMix(BaseMixer):
    """FMix (Harris et al., 2020): a grey image is sampled from Fourier noise
    whose amplitude decays as ``1 / f**decay_power``; its top ``lam``
    fraction of pixels (``lam ~ Beta(alpha, alpha)``) keeps the sample, the
    rest shows the partner. λ is the mask's actual mean (its kept area, or
    mean weight for soft masks).

    Args:
        alpha (float): Beta concentration (> 0). Defaults to 1.0.
        mode (str): ``'batch'`` | ``'elem'`` | ``'pair'`` sharing of λ and of
            the mask, see :class:`BaseMixer`. Defaults to ``'batch'``.
        decay_power (float): Frequency decay ``d`` (>= 0); larger gives
            smoother, blobbier masks. Defaults to 3.0, the paper's.
        max_soft (float): In [0, 0.5]: soften the mask's edge over up to
            this fraction of the pixels on each side of the threshold; 0
            gives binary masks. Defaults to 0.0.

    Shapes:
        inputs (N, C, H, W), scores (N, K) -> (N, C, H, W), (N, K).
    """

    def __init__(self,
                 alpha: float = 1.0,
                 mode: str = 'batch',
                 decay_power: float = 3.0,
                 max_soft: float = 0.0):
        super().__init__(alpha, mode)
        check_number('decay_power', decay_power, low=0., low_inclusive=True)
        check_number('max_soft', max_soft, low=0., high=0.5,
                     low_inclusive=True)
        self.decay_power = float(decay_power)
        self.max_soft = float(max_soft)

    def mix(self, inputs: torch.Tensor, scores: torch.Tensor):
        num, _, height, width = inputs.shape
        device = inputs.device
        index = self.sample_index(num, device)
        lam = self.sample_lam(index)
        noise = self.share_draws(
            torch.randn(num, height, width // 2 + 1, 2, device=device), index)
        grey = low_frequency_images(noise, height, width, self.decay_power)
        keep = top_fraction_mask(grey, lam, self.max_soft)
        return mix_with_mask(inputs, scores, index, keep)

    def extra_repr(self) -> str:
        return (f'{super().extra_repr()}, decay_power={self.decay_power}, '
                f'max_soft={self.max_soft}')
