"""The mixer contract and what every mixer shares.

A mixer is called as ``mixer(inputs, scores) -> (mixed_inputs, mixed_scores)``
(the call of mmpretrain's batch augments, so static mixers also work in stock
``train_cfg.augments``). Mixers that set ``needs_model = True`` (the dynamic
ones, and ManifoldMix) are called by :class:`MixupClassifier` as
``mixer(inputs, scores, model=classifier)``.

Random draws (λ, partners, boxes) are made on the input's device from torch's
global generators, so they are seeded by mmengine's ``randomness`` setting and
cost no host sync.
"""
from typing import Optional, Tuple

import torch
import torch.nn as nn

from dm_plugin.validation import check_choice, check_number

LAMBDA_MODES = ('batch', 'elem', 'pair')


def check_mixer_inputs(inputs: torch.Tensor, scores: torch.Tensor) -> None:
    """Raise naming the problem unless inputs is (N, C, H, W) and scores
    (N, K) with the same N."""
    if not isinstance(inputs, torch.Tensor) or not inputs.is_floating_point():
        raise TypeError('inputs must be a floating-point tensor, got '
                        f'{getattr(inputs, "dtype", type(inputs))}')
    if inputs.dim() != 4:
        raise ValueError('inputs must be 4-D (N, C, H, W), got shape '
                         f'{tuple(inputs.shape)}')
    if not isinstance(scores, torch.Tensor) or scores.dim() != 2:
        raise ValueError('scores must be a 2-D (N, num_classes) tensor, got '
                         f'{getattr(scores, "shape", type(scores))}')
    if scores.size(0) != inputs.size(0):
        raise ValueError(f'shape mismatch: inputs hold {inputs.size(0)} '
                         f'samples but scores hold {scores.size(0)}')
    if inputs.size(0) == 0:
        raise ValueError('cannot mix an empty batch')


def mix_scores(scores: torch.Tensor, lam: torch.Tensor,
               index: torch.Tensor) -> torch.Tensor:
    """``lam * scores + (1 - lam) * scores[index]``: (N, K), (N,), (N,)."""
    lam = lam.to(scores.dtype)[:, None]
    return lam * scores + (1 - lam) * scores[index]


class BaseMixer(nn.Module):
    """Base of all mixers: argument checks, λ and partner sampling.

    Args:
        alpha (float): λ ~ Beta(alpha, alpha); must be > 0.
        mode (str): How λ (and any other random draw, such as a box) is
            shared: ``'batch'`` one draw for the whole batch, ``'elem'`` one
            per sample, ``'pair'`` one per pair of samples that swap content
            with each other. Defaults to ``'batch'``.

    Subclasses implement :meth:`mix`.
    """

    needs_model = False

    def __init__(self, alpha: float = 1.0, mode: str = 'batch'):
        super().__init__()
        check_number('alpha', alpha, low=0.)
        check_choice('mode', mode, LAMBDA_MODES)
        self.alpha = float(alpha)
        self.mode = mode

    def forward(self,
                inputs: torch.Tensor,
                scores: torch.Tensor,
                model: Optional[nn.Module] = None
                ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Mix a batch.

        Args:
            inputs (Tensor): (N, C, H, W) images.
            scores (Tensor): (N, K) one-hot or soft class scores.
            model (nn.Module, optional): The classifier, for mixers with
                ``needs_model``.

        Returns:
            tuple: (N, C, H, W) mixed images and (N, K) float mixed scores.
        """
        check_mixer_inputs(inputs, scores)
        if not scores.is_floating_point():
            scores = scores.float()
        if self.needs_model:
            if model is None:
                raise ValueError(f'{type(self).__name__} needs the classifier:'
                                 ' call it as mixer(inputs, scores, model=...)'
                                 ' (MixupClassifier does)')
            return self.mix(inputs, scores, model)
        return self.mix(inputs, scores)

    def mix(self, inputs: torch.Tensor, scores: torch.Tensor, *args):
        raise NotImplementedError

    def sample_index(self, num: int, device: torch.device) -> torch.Tensor:
        """(N,) partner of each sample: a random permutation, or in
        ``'pair'`` mode a random pairing (odd one out is its own partner)."""
        order = torch.randperm(num, device=device)
        if self.mode != 'pair':
            return order
        index = torch.arange(num, device=device)
        half = num // 2
        first, second = order[:half], order[half:2 * half]
        index[first] = second
        index[second] = first
        return index

    def share_draws(self, draws: torch.Tensor,
                    index: torch.Tensor) -> torch.Tensor:
        """Make per-sample draws (N, ...) follow ``mode``: one value for the
        batch, one per pair (both partners take the lower index's), or one
        per sample."""
        if self.mode == 'batch':
            return draws[:1].expand_as(draws)
        if self.mode == 'pair':
            own = torch.arange(index.numel(), device=index.device)
            return draws[torch.minimum(own, index)]
        return draws

    def sample_lam(self, index: torch.Tensor) -> torch.Tensor:
        """(N,) float32 λ ~ Beta(alpha, alpha), shared as ``mode`` says."""
        concentration = torch.full((index.numel(), ),
                                   self.alpha,
                                   device=index.device)
        beta = torch.distributions.Beta(
            concentration, concentration, validate_args=False)
        return self.share_draws(beta.sample(), index)

    def extra_repr(self) -> str:
        return f'alpha={self.alpha}, mode={self.mode!r}'
