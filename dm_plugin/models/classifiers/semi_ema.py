"""Momentum (EMA) copies of network parts: FixMatch's evaluation model,
DMixMatch's teacher and Self-Tuning's key encoder. The copies are an
``nn.ModuleDict`` keyed like the parts they follow (``backbone``, ``neck``,
``head``, ``projector``)."""
import copy
from typing import Dict, Optional

import torch
import torch.nn as nn

Parts = Dict[str, Optional[nn.Module]]


def frozen_copy(parts: Parts) -> nn.ModuleDict:
    """A deep copy of the given parts (``None`` ones left out) that takes
    no gradients."""
    copies = nn.ModuleDict({
        name: copy.deepcopy(part)
        for name, part in parts.items() if part is not None
    })
    return copies.requires_grad_(False)


def load_copies(copies: nn.ModuleDict, parts: Parts) -> None:
    """Make each copy equal to its part again (after initialisation)."""
    for name, target in copies.items():
        target.load_state_dict(parts[name].state_dict())


@torch.no_grad()
def momentum_update(copies: nn.ModuleDict, parts: Parts, momentum: float,
                    buffers: bool = False) -> None:
    """``copy = momentum * copy + (1 - momentum) * part`` for every copy.

    Parameters are averaged. With ``buffers`` the floating-point buffers
    (BN running statistics) are averaged too and the others (BN's
    ``num_batches_tracked``) copied, as TensorFlow's
    ``ExponentialMovingAverage`` over all model variables in FixMatch's
    reference code; without, the copies keep the buffers they accumulate
    themselves (OpenMixup's teacher and key encoders, which run in training
    mode).
    """
    weight = 1. - momentum
    for name, target in copies.items():
        source = parts[name]
        for target_param, param in zip(target.parameters(),
                                       source.parameters()):
            target_param.lerp_(param, weight)
        if not buffers:
            continue
        for target_buffer, buffer in zip(target.buffers(), source.buffers()):
            if target_buffer.is_floating_point():
                target_buffer.lerp_(buffer, weight)
            else:
                target_buffer.copy_(buffer)


def copy_features(copies: nn.ModuleDict, inputs: torch.Tensor) -> tuple:
    """The copied backbone's features, through the copied neck if any."""
    feats = copies['backbone'](inputs)
    if 'neck' in copies:
        feats = copies['neck'](feats)
    return feats
