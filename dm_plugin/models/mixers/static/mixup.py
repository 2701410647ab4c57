"""Mixup: convex combination of two images and their labels.

Zhang et al. "mixup: Beyond Empirical Risk Minimization", ICLR 2018.
"""
import torch

from dm_plugin.registry import MIXERS
from ..base import BaseMixer, mix_scores


def linear_mix(tensor: torch.Tensor, lam: torch.Tensor,
               index: torch.Tensor) -> torch.Tensor:
    """``lam * tensor + (1 - lam) * tensor[index]`` for a (N, ...) tensor of
    any rank and (N,) ``lam`` and ``index``."""
    lam = lam.to(tensor.dtype).view(-1, *([1] * (tensor.dim() - 1)))
    return lam * tensor + (1 - lam) * tensor[index]


@MIXERS.register_module()
class Mixup(BaseMixer):
    """Mixup (Zhang et al., ICLR 2018): ``x = lam*x_a + (1-lam)*x_b``,
    ``s = lam*s_a + (1-lam)*s_b`` with ``lam ~ Beta(alpha, alpha)``.

    Args:
        alpha (float): Beta concentration (> 0). Defaults to 1.0.
        mode (str): ``'batch'`` | ``'elem'`` | ``'pair'`` λ sharing, see
            :class:`BaseMixer`. Defaults to ``'batch'``.

    Shapes:
        inputs (N, C, H, W), scores (N, K) -> (N, C, H, W), (N, K).
    """

    def mix(self, inputs: torch.Tensor, scores: torch.Tensor):
        index = self.sample_index(inputs.size(0), inputs.device)
        lam = self.sample_lam(index)
        return linear_mix(inputs, lam, index), mix_scores(scores, lam, index)
