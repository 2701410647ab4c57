"""ManifoldMix: mixup of hidden features at a random backbone stage.

Verma et al. "Manifold Mixup: Better Representations by Interpolating Hidden
States", ICML 2019.
"""
from typing import List, Sequence

import torch
import torch.nn as nn

from dm_plugin.registry import MIXERS
from ..base import BaseMixer, mix_scores
from .mixup import linear_mix


def residual_stages(model: nn.Module) -> List[nn.Module]:
    """The residual stages of ``model.backbone`` in order: the modules named
    by ``backbone.res_layers`` (mmpretrain's ResNet, ResNet_CIFAR, ResNeXt,
    ResNetV1c/d, ...); ``TypeError`` naming the backbone otherwise."""
    backbone = getattr(model, 'backbone', None)
    names = getattr(backbone, 'res_layers', None)
    stages = ([getattr(backbone, str(name), None) for name in names]
              if isinstance(names, (list, tuple)) else [])
    if not stages or not all(isinstance(s, nn.Module) for s in stages):
        raise TypeError(
            'ManifoldMix mixes the output of a residual stage listed in '
            '`backbone.res_layers` (mmpretrain ResNet, ResNet_CIFAR, ResNeXt '
            f'and their variants); cannot hook backbone '
            f'{type(backbone).__name__} of {type(model).__name__}')
    return stages


@MIXERS.register_module()
class ManifoldMix(BaseMixer):
    """Manifold Mixup (Verma et al., ICML 2019): a layer ``k`` is drawn from
    ``layers`` each batch and the hidden features ``h_k`` are mixed,
    ``lam * h_k + (1 - lam) * h_k[index]``, with ``lam ~ Beta(alpha,
    alpha)``; ``k = 0`` is the input image (plain Mixup), ``k = s >= 1``
    the output of residual stage ``s`` of ``model.backbone``.

    Called as ``mixer(inputs, scores, model=classifier)`` (``needs_model``):
    for ``k >= 1`` it returns the inputs unchanged with the mixed scores and
    arms a one-shot forward hook on stage ``k`` that mixes that stage's
    output in the classifier's next backbone forward (``extract_feat``). The
    hook removes itself when it fires, and is removed when the backbone
    forward ends, raising or not.

    Args:
        alpha (float): Beta concentration (> 0). Defaults to 1.0.
        mode (str): ``'batch'`` | ``'elem'`` | ``'pair'`` λ sharing, see
            :class:`BaseMixer`. Defaults to ``'batch'``.
        layers (Sequence[int]): Layers ``k`` to draw from, uniformly.
            Defaults to (0, 1, 2), the paper's choice for ResNets.

    Shapes:
        inputs (N, C, H, W), scores (N, K) -> (N, C, H, W), (N, K); stage
        features (N, ...) are mixed along dim 0.
    """

    needs_model = True

    def __init__(self,
                 alpha: float = 1.0,
                 mode: str = 'batch',
                 layers: Sequence[int] = (0, 1, 2)):
        super().__init__(alpha, mode)
        if (not isinstance(layers, Sequence) or not layers or any(
                isinstance(k, bool) or not isinstance(k, int) or k < 0
                for k in layers)):
            raise ValueError('layers must be a non-empty sequence of layer '
                             f'numbers >= 0 (0: the input), got {layers!r}')
        self.layers = tuple(layers)
        self._handles = []

    def mix(self, inputs: torch.Tensor, scores: torch.Tensor,
            model: nn.Module):
        stages = residual_stages(model)
        if max(self.layers) > len(stages):
            raise ValueError(
                f'layers {self.layers} reach past the {len(stages)} residual '
                f'stages of {type(model.backbone).__name__}')
        self.disarm()  # a hook armed for a forward that never came
        index = self.sample_index(inputs.size(0), inputs.device)
        lam = self.sample_lam(index)
        mixed_scores = mix_scores(scores, lam, index)
        layer = self.layers[int(torch.randint(len(self.layers), ()))]
        if layer == 0:
            return linear_mix(inputs, lam, index), mixed_scores
        self.arm_hook(model.backbone, stages[layer - 1], lam, index)
        return inputs, mixed_scores

    def arm_hook(self, backbone: nn.Module, stage: nn.Module,
                 lam: torch.Tensor, index: torch.Tensor) -> None:
        """Mix ``stage``'s output once, in the next forward of ``backbone``.

        The mixing hook removes itself when it fires; a hook on the backbone
        that runs even when its forward raises removes it otherwise, then
        itself (after a raise, at the next forward or :meth:`disarm`: torch
        is then iterating the hook dict it would remove itself from).
        """
        handles = self._handles

        def mix_output(module, args, output):
            handles[0].remove()
            if not isinstance(output, torch.Tensor):
                raise TypeError('ManifoldMix mixes tensor stage outputs; '
                                f'{type(module).__name__} returned '
                                f'{type(output).__name__}')
            return linear_mix(output, lam, index)

        def release(module, args, output):
            handles[0].remove()
            if output is not None:
                handles[1].remove()

        handles.append(stage.register_forward_hook(mix_output))
        handles.append(
            backbone.register_forward_hook(release, always_call=True))

    def disarm(self) -> None:
        """Remove the hooks of the last :meth:`arm_hook`, if still there."""
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def extra_repr(self) -> str:
        return f'{super().extra_repr()}, layers={self.layers}'
