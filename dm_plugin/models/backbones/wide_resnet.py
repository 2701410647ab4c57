"""Wide residual network (WRN-d-k) for 32x32 images.

Zagoruyko & Komodakis. "Wide Residual Networks", BMVC 2016, in the variant
that FixMatch (Sohn et al., NeurIPS 2020) and later semi-supervised work
train: pre-activation basic blocks, leaky ReLU (slope 0.1) and batch norm with
momentum 0.001.
"""
from typing import Sequence

import torch
import torch.nn as nn
from mmcv.cnn import build_activation_layer, build_norm_layer
from mmpretrain.models.backbones.base_backbone import BaseBackbone
from mmpretrain.registry import MODELS

from dm_plugin.validation import check_number


class PreActBlock(nn.Module):
    """``BN-act-conv3x3-BN-act-conv3x3`` plus a shortcut (a 1x1 conv where
    the shape changes).

    With ``activate_shortcut`` the shortcut also starts from the activated
    input (WRN's first block, whose input is the stem conv, not a residual
    sum); otherwise it takes the raw input.

    Shapes:
        (N, in_channels, H, W) -> (N, out_channels, H / stride, W / stride).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int,
                 activate_shortcut: bool, norm_cfg: dict, act_cfg: dict):
        super().__init__()
        self.norm1 = build_norm_layer(norm_cfg, in_channels)[1]
        self.act1 = build_activation_layer(act_cfg)
        self.conv1 = nn.Conv2d(
            in_channels, out_channels, 3, stride, padding=1, bias=False)
        self.norm2 = build_norm_layer(norm_cfg, out_channels)[1]
        self.act2 = build_activation_layer(act_cfg)
        self.conv2 = nn.Conv2d(
            out_channels, out_channels, 3, 1, padding=1, bias=False)
        self.shortcut = None
        if in_channels != out_channels or stride != 1:
            self.shortcut = nn.Conv2d(
                in_channels, out_channels, 1, stride, bias=False)
        self.activate_shortcut = activate_shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        activated = self.act1(self.norm1(x))
        out = self.conv1(activated)
        out = self.conv2(self.act2(self.norm2(out)))
        identity = activated if self.activate_shortcut else x
        if self.shortcut is not None:
            identity = self.shortcut(identity)
        return out + identity


@MODELS.register_module()
class WideResNet(BaseBackbone):
    """Wide ResNet WRN-``depth``-``widen_factor`` for CIFAR-sized inputs.

    Paper: Zagoruyko & Komodakis, "Wide Residual Networks", BMVC 2016.
    Defaults follow FixMatch's WRN-28-2 (leaky ReLU 0.1, BN momentum 0.001,
    i.e. a 0.999 running-average decay). A 3x3 stem conv of 16 channels is
    followed by three groups of ``(depth - 4) / 6`` pre-activation blocks of
    ``16k``, ``32k`` and ``64k`` channels (strides 1, 2, 2); the last output
    is passed through a final BN and activation.

    Args:
        depth (int): Network depth, ``6n + 4`` (28 for WRN-28-k).
            Defaults to 28.
        widen_factor (int): Width multiplier k. Defaults to 2.
        in_channels (int): Input channels. Defaults to 3.
        out_indices (Sequence[int]): Groups (0, 1, 2) whose outputs are
            returned. Defaults to ``(2, )``.
        norm_cfg (dict): Norm layer config.
            Defaults to ``dict(type='BN', momentum=0.001)``.
        act_cfg (dict): Activation config.
            Defaults to ``dict(type='LeakyReLU', negative_slope=0.1)``.
        init_cfg (dict | list[dict], optional): Initialisation; defaults to
            Kaiming-normal convs (fan_out), as FixMatch (BN layers keep
            PyTorch's unit weight and zero bias).

    Shapes:
        input (N, in_channels, H, W); output: tuple of the selected groups'
        features, group ``i`` being (N, 16k * 2^i, H / 2^i, W / 2^i).
    """

    def __init__(self,
                 depth: int = 28,
                 widen_factor: int = 2,
                 in_channels: int = 3,
                 out_indices: Sequence[int] = (2, ),
                 norm_cfg: dict = dict(type='BN', momentum=0.001),
                 act_cfg: dict = dict(type='LeakyReLU', negative_slope=0.1),
                 init_cfg=None):
        if init_cfg is None:
            init_cfg = dict(type='Kaiming', layer='Conv2d', mode='fan_out',
                            nonlinearity='leaky_relu')
        super().__init__(init_cfg)
        if isinstance(depth, bool) or not isinstance(depth, int) or \
                depth < 10 or (depth - 4) % 6:
            raise ValueError(f'depth must be 6n + 4 with n >= 1 (e.g. 28), '
                             f'got {depth!r}')
        if isinstance(widen_factor, bool) or not isinstance(widen_factor, int):
            raise TypeError(
                f'widen_factor must be an int, got {widen_factor!r}')
        check_number('widen_factor', widen_factor, low=0)
        out_indices = tuple(out_indices)
        if not out_indices or any(i not in (0, 1, 2) for i in out_indices):
            raise ValueError('out_indices must name groups among (0, 1, 2), '
                             f'got {out_indices}')
        self.depth = depth
        self.widen_factor = widen_factor
        self.out_indices = out_indices

        blocks_per_group = (depth - 4) // 6
        widths = [16 * widen_factor * 2**i for i in range(3)]
        self.stem = nn.Conv2d(in_channels, 16, 3, padding=1, bias=False)
        self.groups = nn.ModuleList()
        channels = 16
        for index, width in enumerate(widths):
            blocks = []
            for block in range(blocks_per_group):
                first = block == 0
                blocks.append(
                    PreActBlock(
                        channels,
                        width,
                        stride=2 if first and index > 0 else 1,
                        activate_shortcut=first and index == 0,
                        norm_cfg=norm_cfg,
                        act_cfg=act_cfg))
                channels = width
            self.groups.append(nn.Sequential(*blocks))
        self.final_norm = build_norm_layer(norm_cfg, channels)[1]
        self.final_act = build_activation_layer(act_cfg)

    def forward(self, x: torch.Tensor) -> tuple:
        x = self.stem(x)
        outs = []
        for index, group in enumerate(self.groups):
            x = group(x)
            if index == len(self.groups) - 1:
                x = self.final_act(self.final_norm(x))
            if index in self.out_indices:
                outs.append(x)
        return tuple(outs)
