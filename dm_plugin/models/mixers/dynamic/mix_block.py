"""The Mix Blocks of AutoMix and SAMix: from a feature map of the batch, the
logit of each position's partner weight, by cross-attention between a
sample's features and its partner's.

Both blocks return ``(N, 1, h, w)`` logits ``P v``: ``P`` is the softmax
attention of each position of a sample over the positions of its partner
(scaled dot product of 1x1-conv embeddings, computed in float32 as the
authors do), ``v`` the partner's value map. The mixer upsamples the logits to
the image size, then a sigmoid gives the partner's weight per pixel.
"""
import math
from typing import Optional

import torch
import torch.nn as nn

from dm_plugin.validation import check_int, check_number


def attention_logits(query: torch.Tensor, key: torch.Tensor,
                     value: torch.Tensor) -> torch.Tensor:
    """``softmax(q^T k / sqrt(d)) v`` in float32, for (N, d, h, w) queries
    and keys and an (N, 1, h, w) value map; returns (N, 1, h, w)."""
    num, channels, height, width = query.shape
    with torch.autocast(query.device.type, enabled=False):
        weights = torch.softmax(
            query.float().flatten(2).transpose(1, 2)
            @ key.float().flatten(2) / math.sqrt(channels),
            dim=-1)
        logits = weights @ value.float().flatten(2).transpose(1, 2)
    return logits.view(num, 1, height, width)


def normal_init_convs(module: nn.Module, std: float = 0.01) -> None:
    """N(0, std) weights and zero biases for every 1x1 conv (the authors'
    Mix Block initialisation); norm layers keep weight 1, bias 0."""
    for conv in module.modules():
        if isinstance(conv, nn.Conv2d):
            nn.init.normal_(conv.weight, std=std)
            if conv.bias is not None:
                nn.init.zeros_(conv.bias)


def check_block_args(in_channels: int, reduction: int) -> int:
    """Validate the channel arguments; returns the embedding width
    ``max(in_channels // reduction, 1)``."""
    check_int('in_channels', in_channels, 1)
    check_int('reduction', reduction, 1)
    return max(in_channels // reduction, 1)


class MixBlock(nn.Module):
    """AutoMix's Mix Block (Liu et al., ECCV 2022; OpenMixup
    ``PixelMixBlock`` with ``lam_concat``)::

        a = z,  b = z[index]                  (or [z, λ], [z[index], 1-λ])
        logits = softmax(W_q(a)^T W_q(b) / sqrt(d)) W_v(b)

    ``W_q`` (shared by queries and keys, ``d = max(C // reduction, 1)``
    channels) and ``W_v`` (one channel) are 1x1 convolutions with bias,
    initialised N(0, 0.01) with zero bias. With ``lam_concat`` each sample's
    features get a constant channel λ and its partner's 1 - λ (the authors'
    ImageNet and fine-grained configs); without it (their CIFAR and
    Tiny-ImageNet configs) the block does not see λ, which reaches it only
    through the mask loss.

    Args:
        in_channels (int): Channels C of the feature map.
        reduction (int): Channel reduction of the embedding. Defaults to 2.
        lam_concat (bool): Concatenate λ as a channel. Defaults to False.

    Shapes:
        feats (N, C, h, w), lam (N,), index (N,) -> logits (N, 1, h, w) of
        the partner's weight.
    """

    def __init__(self,
                 in_channels: int,
                 reduction: int = 2,
                 lam_concat: bool = False):
        super().__init__()
        self.embed_channels = check_block_args(in_channels, reduction)
        if not isinstance(lam_concat, bool):
            raise TypeError(f'lam_concat must be a bool, got {lam_concat!r}')
        self.lam_concat = lam_concat
        channels = in_channels + int(lam_concat)
        self.query = nn.Conv2d(channels, self.embed_channels, 1)
        self.value = nn.Conv2d(channels, 1, 1)
        normal_init_convs(self)

    def forward(self, feats: torch.Tensor, lam: torch.Tensor,
                index: torch.Tensor) -> torch.Tensor:
        own, partner = feats, feats[index]
        if self.lam_concat:
            num, _, height, width = feats.shape
            lam_map = lam.to(feats.dtype).view(num, 1, 1, 1).expand(
                num, 1, height, width)
            own = torch.cat((own, lam_map), dim=1)
            partner = torch.cat((partner, 1 - lam_map), dim=1)
        return attention_logits(
            self.query(own), self.query(partner), self.value(partner))

    def extra_repr(self) -> str:
        return f'lam_concat={self.lam_concat}'


def rescale_lam(lam: torch.Tensor, k: float) -> torch.Tensor:
    """SAMix's λ adjustment (OpenMixup ``rescale_lam_mult``): the odd
    cubic through (0, 0), (1/2, 1/2) and (1, 1)
    ``(4/3 λ³ - 2 λ² + (k+1) λ) / (k + 1/3)``, closer to the identity the
    larger ``k``, pushed towards 1/2 for small ``k``."""
    slope = k + 1
    return (4 / 3 * lam**3 - 2 * lam**2 + slope * lam) / (slope - 2 / 3)


class SAMixBlock(nn.Module):
    """SAMix's Mix Block, the "Mixer" (Li et al., "Boosting Discriminative
    Visual Representation Learning with Scenario-Agnostic Mixup",
    arXiv 2111.15454; OpenMixup ``PixelMixBlock`` with ``lam_mul``,
    ``lam_residual``, ``x_qk_concat`` and a ``ConvNeck`` value network)::

        λ' = rescale(λ, k)                     (λ itself when k is None)
        a = z (1 + λ'),  b = z[index] (1 + 1 - λ')      (λ embedding)
        logits = softmax(W_q([a, b])^T W_k([a, b]) / sqrt(d)) V(b)

    Queries and keys both read the two samples' features side by side
    (separate 1x1 convolutions to ``d = max(C // reduction, 1)`` channels);
    the value map is non-linear: ``V = Dropout ∘ Conv1x1(C/2 -> 1) ∘ ELU ∘ BN
    ∘ Conv1x1(C -> C/2)`` (convolutions without bias). All convolutions are
    initialised N(0, 0.01), biases 0.

    Args:
        in_channels (int): Channels C of the feature map (>= 2).
        reduction (int): Channel reduction of the embedding. Defaults to 2.
        lam_rescale_k (float, optional): ``k >= 0`` of :func:`rescale_lam`;
            None uses λ as drawn (the authors' ``lam_mul_k=-1``). Defaults
            to 0.25 (their CIFAR configs).
        value_dropout (float): Dropout on the value map, in [0, 1).
            Defaults to 0 (their CIFAR and Tiny-ImageNet configs; 0.1 on
            ImageNet and the fine-grained sets).

    Shapes:
        feats (N, C, h, w), lam (N,), index (N,) -> logits (N, 1, h, w) of
        the partner's weight.
    """

    def __init__(self,
                 in_channels: int,
                 reduction: int = 2,
                 lam_rescale_k: Optional[float] = 0.25,
                 value_dropout: float = 0.):
        super().__init__()
        self.embed_channels = check_block_args(in_channels, reduction)
        check_int('in_channels', in_channels, 2)
        if lam_rescale_k is not None:
            check_number('lam_rescale_k', lam_rescale_k, low=0.,
                         low_inclusive=True)
        check_number('value_dropout', value_dropout, low=0., high=1.,
                     low_inclusive=True)
        if value_dropout == 1:
            raise ValueError('value_dropout must be < 1, got 1')
        self.lam_rescale_k = lam_rescale_k
        hidden = in_channels // 2
        self.query = nn.Conv2d(2 * in_channels, self.embed_channels, 1)
        self.key = nn.Conv2d(2 * in_channels, self.embed_channels, 1)
        self.value = nn.Sequential(
            nn.Conv2d(in_channels, hidden, 1, bias=False),
            nn.BatchNorm2d(hidden), nn.ELU(),
            nn.Conv2d(hidden, 1, 1, bias=False), nn.Dropout(value_dropout))
        normal_init_convs(self)

    def forward(self, feats: torch.Tensor, lam: torch.Tensor,
                index: torch.Tensor) -> torch.Tensor:
        lam = lam.to(feats.dtype).view(-1, 1, 1, 1)
        if self.lam_rescale_k is not None:
            lam = rescale_lam(lam, self.lam_rescale_k)
        own = feats * (1 + lam)
        partner = feats[index] * (2 - lam)
        pair = torch.cat((own, partner), dim=1)
        return attention_logits(
            self.query(pair), self.key(pair), self.value(partner))

    def extra_repr(self) -> str:
        return f'lam_rescale_k={self.lam_rescale_k}'
