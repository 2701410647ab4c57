"""AutoMix: a learned Mix Block trained through a momentum encoder.

Liu, Li et al. "AutoMix: Unveiling the Power of Mixup for Stronger
Classifiers", ECCV 2022.
"""
import copy
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from dm_plugin.registry import MIXERS
from dm_plugin.validation import check_int, check_number
from ..base import BaseMixer, mix_scores
from .utils import class_logits, soft_cross_entropy

ENCODER_PARTS = ('backbone', 'neck', 'head')


class MixBlock(nn.Module):
    """AutoMix's Mix Block: a mask for each sample from the cross-attention
    between its feature map and its partner's, each conditioned on its
    mixing ratio by an extra constant channel (λ for the sample, 1 - λ for
    the partner)::

        q = W_q [z_a, λ],  k = W_q [z_b, 1-λ],  v = W_v [z_b, 1-λ]
        P = softmax(q^T k / sqrt(d))        (each position of a over b's)
        keep_a = 1 - sigmoid(P v)           (weight of a; b gets the rest)

    ``W_q`` (shared by q and k, ``d = max(C // reduction, 1)`` channels) and
    ``W_v`` (one channel) are 1x1 convolutions, initialised N(0, 0.01) with
    zero bias as in the authors' code; the attention runs in float32.

    Args:
        in_channels (int): Channels C of the feature map.
        reduction (int): Channel reduction of q and k. Defaults to 2.

    Shapes:
        feats (N, C, h, w), lam (N,), index (N,) -> keep (N, 1, h, w) in
        (0, 1).
    """

    def __init__(self, in_channels: int, reduction: int = 2):
        super().__init__()
        check_int('in_channels', in_channels, 1)
        check_int('reduction', reduction, 1)
        self.embed_channels = max(in_channels // reduction, 1)
        self.query = nn.Conv2d(in_channels + 1, self.embed_channels, 1)
        self.value = nn.Conv2d(in_channels + 1, 1, 1)
        for conv in (self.query, self.value):
            nn.init.normal_(conv.weight, std=0.01)
            nn.init.zeros_(conv.bias)

    def forward(self, feats: torch.Tensor, lam: torch.Tensor,
                index: torch.Tensor) -> torch.Tensor:
        num, _, height, width = feats.shape
        lam_map = lam.to(feats.dtype).view(num, 1, 1, 1).expand(
            num, 1, height, width)
        own = torch.cat((feats, lam_map), dim=1)
        partner = torch.cat((feats[index], 1 - lam_map), dim=1)
        query = self.query(own).flatten(2)
        key = self.query(partner).flatten(2)
        value = self.value(partner).flatten(2)
        with torch.autocast(feats.device.type, enabled=False):
            attention = torch.softmax(
                query.float().transpose(1, 2) @ key.float() /
                math.sqrt(self.embed_channels), dim=-1)
            partner_logit = attention @ value.float().transpose(1, 2)
        return torch.sigmoid(-partner_logit).view(num, 1, height, width)


@MIXERS.register_module()
class AutoMix(BaseMixer):
    """AutoMix (Liu et al., ECCV 2022): the :class:`MixBlock` turns the
    momentum encoder's feature maps of the batch into mixing masks; it is
    trained end to end through that frozen encoder, the bi-level scheme
    kept in one step by the momentum pipeline:

    * the momentum encoder is an EMA copy of the classifier's backbone, neck
      and head (``requires_grad=False``), updated every training iteration
      (``ema = m * ema + (1 - m) * online``, buffers copied);
    * Mix Block sample (λ_mb, partners_mb): ``loss_mix_block`` is the
      mixup cross-entropy of the momentum encoder on it, back-propagated
      into the Mix Block only, plus ``loss_mask = mask_loss_weight *
      max(|mean(keep) - λ_mb| - mask_margin, 0)``;
    * classifier sample (a second λ, partners): mixed with the Mix Block's
      mask detached (plain mixup when λ is within ``lam_margin`` of 0 or 1),
      scores mixed with λ; the classifier trains on it, plus
      ``loss_clean = clean_loss_weight * CE`` on the clean batch.

    Defaults follow the authors' CIFAR configs (OpenMixup
    ``r18_l2_a2_near_L1_01``: alpha 2, momentum 0.999, stage 3 features,
    mask loss 0.1 with margin 0.1, λ margin 0.08, one-hot loss 1). Not
    included: their cosine momentum schedule to 0.999999 (a hook may set
    ``mixer.momentum``) and SAMix's options. The mask loss uses each
    sample's mask mean (the authors' code: the batch mean).

    ``in_channels`` must be the channels of ``feature_layer``'s output, e.g.
    ``dict(type='AutoMix', in_channels=256)`` for ResNet_CIFAR-18 / ResNet-18
    (``layer3``), 1024 for ResNet-50 / ResNeXt-50.

    Args:
        in_channels (int): Channels of the ``feature_layer`` output.
        alpha (float): Beta concentration of both λ (> 0). Defaults to 2.0.
        mode (str): ``'batch'`` | ``'elem'`` | ``'pair'`` λ sharing, see
            :class:`BaseMixer`. Defaults to ``'batch'``.
        feature_layer (str): Submodule of the backbone whose output feeds
            the Mix Block. Defaults to ``'layer3'`` (mmpretrain ResNets'
            stage 3).
        momentum (float): EMA momentum m in [0, 1]. Defaults to 0.999.
        reduction (int): Mix Block channel reduction. Defaults to 2.
        mask_loss_weight (float): Weight (>= 0). Defaults to 0.1.
        mask_margin (float): Tolerance of the mask mean around λ, in [0, 1].
            Defaults to 0.1.
        lam_margin (float): λ within this of 0 or 1 mixes the classifier's
            sample linearly, in [0, 0.5]. Defaults to 0.08.
        clean_loss_weight (float): Weight (>= 0) of the classifier's CE on
            the clean batch (an extra forward/backward); 0 disables it.
            Defaults to 1.0.

    Shapes:
        inputs (N, C, H, W), scores (N, K) -> (N, C, H, W), (N, K).
    """

    needs_model = True

    def __init__(self,
                 in_channels: int,
                 alpha: float = 2.0,
                 mode: str = 'batch',
                 feature_layer: str = 'layer3',
                 momentum: float = 0.999,
                 reduction: int = 2,
                 mask_loss_weight: float = 0.1,
                 mask_margin: float = 0.1,
                 lam_margin: float = 0.08,
                 clean_loss_weight: float = 1.0):
        super().__init__(alpha, mode)
        if not isinstance(feature_layer, str) or not feature_layer:
            raise TypeError('feature_layer must name a backbone submodule, '
                            f'got {feature_layer!r}')
        check_number('momentum', momentum, low=0., high=1.,
                     low_inclusive=True)
        check_number('mask_loss_weight', mask_loss_weight, low=0.,
                     low_inclusive=True)
        check_number('mask_margin', mask_margin, low=0., high=1.,
                     low_inclusive=True)
        check_number('lam_margin', lam_margin, low=0., high=0.5,
                     low_inclusive=True)
        check_number('clean_loss_weight', clean_loss_weight, low=0.,
                     low_inclusive=True)
        self.in_channels = in_channels
        self.feature_layer = feature_layer
        self.momentum = float(momentum)
        self.mask_loss_weight = float(mask_loss_weight)
        self.mask_margin = float(mask_margin)
        self.lam_margin = float(lam_margin)
        self.clean_loss_weight = float(clean_loss_weight)
        self.mix_block = MixBlock(in_channels, reduction)
        self.momentum_encoder = None
        self._losses = {}

    def online_parts(self, classifier: nn.Module) -> dict:
        """The classifier's backbone, neck (when it has one) and head."""
        return {
            name: getattr(classifier, name)
            for name in ENCODER_PARTS
            if getattr(classifier, name, None) is not None
        }

    def bind_classifier(self, classifier: nn.Module) -> None:
        """Build the momentum encoder as a frozen copy of the classifier's
        backbone, neck and head, or, once built, copy their current weights
        into it in place (after the classifier's ``init_weights``)."""
        parts = self.online_parts(classifier)
        if self.momentum_encoder is None:
            backbone = parts['backbone']
            try:
                backbone.get_submodule(self.feature_layer)
            except AttributeError:
                names = ', '.join(name for name, _ in
                                  backbone.named_children())
                raise ValueError(
                    f'AutoMix reads feature_layer={self.feature_layer!r} of '
                    f'the backbone, but {type(backbone).__name__} has no '
                    f'such submodule (it has: {names})') from None
            encoder = nn.ModuleDict(
                {name: copy.deepcopy(part) for name, part in parts.items()})
            self.momentum_encoder = encoder.requires_grad_(False)
            return
        with torch.no_grad():
            for name, part in parts.items():
                target = self.momentum_encoder[name]
                for ema, online in zip(target.state_dict().values(),
                                       part.state_dict().values()):
                    ema.copy_(online)

    @torch.no_grad()
    def train_iter_update(self, classifier: nn.Module) -> None:
        """One momentum step of the encoder towards the classifier:
        parameters ``lerp`` by ``1 - momentum``, buffers copied (device
        ops only, no host sync)."""
        ema_params, online_params, ema_bufs, online_bufs = [], [], [], []
        for name, part in self.online_parts(classifier).items():
            target = self.momentum_encoder[name]
            ema_params += list(target.parameters())
            online_params += list(part.parameters())
            ema_bufs += list(target.buffers())
            online_bufs += list(part.buffers())
        torch._foreach_lerp_(ema_params, online_params, 1 - self.momentum)
        for ema, online in zip(ema_bufs, online_bufs):
            ema.copy_(online)

    def pop_losses(self) -> dict:
        """The losses of the last :meth:`mix`, handed over once."""
        losses, self._losses = self._losses, {}
        return losses

    def stage_features(self, inputs: torch.Tensor) -> torch.Tensor:
        """(N, in_channels, h, w) ``feature_layer`` output of the momentum
        encoder's backbone on ``inputs``, without gradients."""
        backbone = self.momentum_encoder['backbone']
        captured = []
        handle = backbone.get_submodule(
            self.feature_layer).register_forward_hook(
                lambda module, args, output: captured.append(output))
        try:
            with torch.no_grad():
                backbone(inputs)
        finally:
            handle.remove()
        feats = captured[0] if captured else None
        if not isinstance(feats, torch.Tensor) or feats.dim() != 4:
            raise ValueError(
                f'AutoMix needs a feature map (N, C, h, w) from backbone.'
                f'{self.feature_layer}, got '
                f'{getattr(feats, "shape", type(feats))}')
        if feats.size(1) != self.in_channels:
            raise ValueError(
                f'AutoMix in_channels={self.in_channels} but backbone.'
                f'{self.feature_layer} outputs {feats.size(1)} channels: set '
                f'in_channels={feats.size(1)}')
        return feats

    def encoder_logits(self, inputs: torch.Tensor) -> torch.Tensor:
        """(N, num_classes) logits of the momentum encoder."""
        feats = self.momentum_encoder['backbone'](inputs)
        if 'neck' in self.momentum_encoder:
            feats = self.momentum_encoder['neck'](feats)
        return self.momentum_encoder['head'](feats)

    def keep_mask(self, feats: torch.Tensor, lam: torch.Tensor,
                  index: torch.Tensor, size) -> torch.Tensor:
        """(N, 1, H, W) Mix Block weights of each sample's own pixels,
        upsampled (nearest) to the image ``size``."""
        return F.interpolate(
            self.mix_block(feats, lam, index), size=size, mode='nearest')

    def mix(self, inputs: torch.Tensor, scores: torch.Tensor,
            model: nn.Module):
        if self.momentum_encoder is None:
            self.bind_classifier(model)
        num, size = inputs.size(0), inputs.shape[-2:]
        feats = self.stage_features(inputs)

        index = self.sample_index(num, inputs.device)
        lam = self.sample_lam(index)
        keep = self.keep_mask(feats, lam, index, size)
        mixed = torch.lerp(inputs[index], inputs, keep.to(inputs.dtype))
        logits = self.encoder_logits(mixed)
        losses = dict(
            loss_mix_block=soft_cross_entropy(
                logits, mix_scores(scores, lam, index)).mean(),
            loss_mask=self.mask_loss_weight *
            ((keep.flatten(1).mean(dim=1) - lam).abs() -
             self.mask_margin).clamp(min=0).mean())

        index = self.sample_index(num, inputs.device)
        lam = self.sample_lam(index)
        with torch.no_grad():
            keep = self.keep_mask(feats, lam, index, size)
        linear = (lam <= self.lam_margin) | (lam >= 1 - self.lam_margin)
        keep = torch.where(linear.view(-1, 1, 1, 1), lam.view(-1, 1, 1, 1),
                           keep)
        mixed = torch.lerp(inputs[index], inputs, keep.to(inputs.dtype))
        if self.clean_loss_weight > 0:
            losses['loss_clean'] = self.clean_loss_weight * soft_cross_entropy(
                class_logits(model, inputs), scores).mean()
        self._losses = losses
        return mixed, mix_scores(scores, lam, index)

    def extra_repr(self) -> str:
        return (f'{super().extra_repr()}, in_channels={self.in_channels}, '
                f'feature_layer={self.feature_layer!r}, '
                f'momentum={self.momentum}, '
                f'mask_loss_weight={self.mask_loss_weight}, '
                f'mask_margin={self.mask_margin}, '
                f'lam_margin={self.lam_margin}, '
                f'clean_loss_weight={self.clean_loss_weight}')
