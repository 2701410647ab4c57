"""SaliencyMix: cut the partner's patch around its most salient point.

Uddin et al. "SaliencyMix: A Saliency Guided Data Augmentation Strategy for
Better Regularization", ICLR 2021. Saliency: Hou & Zhang "Saliency Detection:
A Spectral Residual Approach", CVPR 2007.
"""
import torch
import torch.nn.functional as F

from dm_plugin.registry import MIXERS
from dm_plugin.validation import check_number
from ..base import BaseMixer
from .masks import box_mask, mix_with_mask, to_pixels


def gaussian_blur(images: torch.Tensor, size: int,
                  sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (N, 1, H, W) images, reflected borders."""
    offsets = torch.arange(size, device=images.device) - (size - 1) / 2
    kernel = torch.exp(-offsets.square() / (2 * sigma**2))
    kernel = (kernel / kernel.sum()).to(images.dtype)
    pad = size // 2
    images = F.pad(images, (pad, pad, pad, pad), mode='reflect')
    images = F.conv2d(images, kernel.view(1, 1, 1, size))
    return F.conv2d(images, kernel.view(1, 1, size, 1))


def spectral_residual_saliency(images: torch.Tensor,
                               size: int = 64) -> torch.Tensor:
    """(N, size, size) spectral-residual saliency of (N, C, H, W) images.

    Hou & Zhang (2007), as OpenCV's ``StaticSaliencySpectralResidual``
    computes it: the channel mean, resized to ``size x size``; the log
    amplitude spectrum minus its 3x3 local mean (the spectral residual),
    recombined with the phase and transformed back; the magnitude blurred by
    a 5x5 Gaussian (sigma 8) and squared. Computed in float32.
    """
    grey = images.float().mean(dim=1, keepdim=True)
    grey = F.interpolate(
        grey, size=(size, size), mode='bilinear', align_corners=False)
    spectrum = torch.fft.fft2(grey)
    log_amplitude = spectrum.abs().clamp(min=1e-10).log()
    local_mean = F.avg_pool2d(
        F.pad(log_amplitude, (1, 1, 1, 1), mode='reflect'), 3, stride=1)
    residual = torch.polar((log_amplitude - local_mean).exp(),
                           spectrum.angle())
    magnitude = torch.fft.ifft2(residual).abs()
    return gaussian_blur(magnitude, 5, 8.).square()[:, 0]


@MIXERS.register_module()
class SaliencyMix(BaseMixer):
    """SaliencyMix (Uddin et al., ICLR 2021): a box of area ``(1 - lam)``
    (``lam ~ Beta(alpha, alpha)``), centred at the peak of the partner's
    spectral-residual saliency, is pasted from the partner at the same place;
    λ is corrected to the kept area. The box is cut as CutMix's (even sides,
    clipped at the border), centred on the image pixel under the peak.

    In ``'batch'`` mode every sample takes the box of the first sample's
    partner, as the authors' code does.

    Args:
        alpha (float): Beta concentration (> 0). Defaults to 1.0.
        mode (str): ``'batch'`` | ``'elem'`` | ``'pair'`` sharing of λ and of
            the box, see :class:`BaseMixer`. Defaults to ``'batch'``.
        saliency_size (int): Side (>= 4) of the square resolution the saliency
            is computed at. Defaults to 64 (OpenCV's).

    Shapes:
        inputs (N, C, H, W), scores (N, K) -> (N, C, H, W), (N, K).
    """

    def __init__(self,
                 alpha: float = 1.0,
                 mode: str = 'batch',
                 saliency_size: int = 64):
        super().__init__(alpha, mode)
        if isinstance(saliency_size, bool) or not isinstance(
                saliency_size, int):
            raise TypeError('saliency_size must be an integer, got '
                            f'{saliency_size!r}')
        check_number('saliency_size', saliency_size, low=4,
                     low_inclusive=True)
        self.saliency_size = saliency_size

    def mix(self, inputs: torch.Tensor, scores: torch.Tensor):
        _, _, height, width = inputs.shape
        index = self.sample_index(inputs.size(0), inputs.device)
        lam = self.sample_lam(index)
        size = self.saliency_size
        peak = spectral_residual_saliency(inputs, size).flatten(1).argmax(1)
        centers = (torch.stack((torch.div(peak, size, rounding_mode='floor'),
                                peak % size), dim=1) + 0.5) / size
        centers = self.share_draws(centers[index], index)
        pasted = box_mask(lam, height, width,
                          *to_pixels(centers, height, width))
        return mix_with_mask(inputs, scores, index, ~pasted)

    def extra_repr(self) -> str:
        return f'{super().extra_repr()}, saliency_size={self.saliency_size}'
