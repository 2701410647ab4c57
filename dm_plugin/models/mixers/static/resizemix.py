"""ResizeMix: paste the whole partner image, shrunk, at a random place.

Qin et al. "ResizeMix: Mixing Data with Preserved Object Information and True
Labels", arXiv:2012.11101, 2020.
"""
import torch
import torch.nn.functional as F

from dm_plugin.registry import MIXERS
from dm_plugin.validation import check_choice
from ..base import BaseMixer
from .masks import check_interval, mix_with_mask

INTERPOLATIONS = ('nearest', 'bilinear', 'bicubic')


@MIXERS.register_module()
class ResizeMix(BaseMixer):
    """ResizeMix (Qin et al., 2020): the partner image is resized by a side
    ratio ``tau`` and pasted whole at a random position, so its object is
    never cut away; λ is the kept area ``1 - h*w / (H*W)`` of the rounded
    patch.

    The paper draws ``tau ~ U(scale)``; here ``tau = min + (max - min) * B``
    with ``B ~ Beta(alpha, alpha)``, which is that uniform draw for the
    default ``alpha=1`` and concentrates ``tau`` for other ``alpha``.

    Args:
        alpha (float): Beta concentration (> 0) of the draw in ``scale``.
            Defaults to 1.0.
        mode (str): ``'batch'`` | ``'elem'`` | ``'pair'`` sharing of the patch
            size and position, see :class:`BaseMixer`. Defaults to
            ``'batch'``.
        scale (tuple[float]): Range ``(min, max)`` in (0, 1] of the patch's
            side ratio ``tau``. Defaults to (0.1, 0.8), the paper's.
        interpolation (str): ``'nearest'`` | ``'bilinear'`` | ``'bicubic'``
            resizing. Defaults to ``'bilinear'``.

    Shapes:
        inputs (N, C, H, W), scores (N, K) -> (N, C, H, W), (N, K).
    """

    def __init__(self,
                 alpha: float = 1.0,
                 mode: str = 'batch',
                 scale=(0.1, 0.8),
                 interpolation: str = 'bilinear'):
        super().__init__(alpha, mode)
        check_interval('scale', scale, low=0., high=1.)
        check_choice('interpolation', interpolation, INTERPOLATIONS)
        self.scale = tuple(float(s) for s in scale)
        self.interpolation = interpolation

    def mix(self, inputs: torch.Tensor, scores: torch.Tensor):
        num, _, height, width = inputs.shape
        device = inputs.device
        index = self.sample_index(num, device)
        low, high = self.scale
        tau = low + (high - low) * self.sample_lam(index)
        extent = torch.stack(
            (torch.full_like(tau, height), torch.full_like(tau, width)), 1)
        size = (tau[:, None] * extent).round().clamp(min=1)  # (N, 2) h, w
        corner = (self.share_draws(torch.rand(num, 2, device=device), index) *
                  (extent - size + 1)).floor()  # (N, 2) top, left
        # Position of each pixel inside its sample's patch, in (0, 1) there,
        # in the inputs' precision (the sampling grid's).
        size, corner = size.to(inputs.dtype), corner.to(inputs.dtype)
        rows = (torch.arange(height, device=device, dtype=inputs.dtype) +
                0.5 - corner[:, :1]) / size[:, :1]  # (N, H)
        cols = (torch.arange(width, device=device, dtype=inputs.dtype) +
                0.5 - corner[:, 1:]) / size[:, 1:]  # (N, W)
        inside = (((rows > 0) & (rows < 1))[:, :, None] &
                  ((cols > 0) & (cols < 1))[:, None, :])
        # grid_sample with align_corners=False maps [-1, 1] onto the whole
        # partner image: the same sampling as resizing it to (h, w).
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
                f'interpolation={self.interpolation!r}')
