"""Momentum (EMA) copies of networks: FixMatch's evaluation model,
DMixMatch's teacher and Self-Tuning's key encoder."""
import copy
from typing import Dict, Optional

import torch
import torch.nn as nn


def frozen_copy(modules: Dict[str, Optional[nn.Module]]) -> nn.ModuleDict:
    """A deep copy of the given modules (``None`` ones left out) that takes
    no gradients."""
    copied = nn.ModuleDict({
        name: copy.deepcopy(module)
        for name, module in modules.items() if module is not None
    })
    return copied.requires_grad_(False)


@torch.no_grad()
def momentum_update(target: nn.Module, source: nn.Module, momentum: float,
                    buffers: bool = False) -> None:
    """``target = momentum * target + (1 - momentum) * source``.

    Parameters are averaged. With ``buffers`` the floating-point buffers
    (BN running statistics) are averaged too and the others (BN's
    ``num_batches_tracked``) copied, as TensorFlow's
    ``ExponentialMovingAverage`` over all model variables in FixMatch's
    reference code; without, the target keeps the buffers it accumulates
    itself (OpenMixup's teacher and key encoders, which run in training
    mode). ``target`` and ``source`` must have the same structure.
    """
    weight = 1. - momentum
    for target_param, param in zip(target.parameters(), source.parameters()):
        target_param.lerp_(param, weight)
    if buffers:
        for target_buffer, buffer in zip(target.buffers(), source.buffers()):
            if target_buffer.is_floating_point():
                target_buffer.lerp_(buffer, weight)
            else:
                target_buffer.copy_(buffer)
