"""AutoMix: a learned Mix Block trained end to end through a momentum
encoder.

Liu, Li et al. "AutoMix: Unveiling the Power of Mixup for Stronger
Classifiers", ECCV 2022. The authors' code, which produced the published
numbers, is OpenMixup's ``AutoMixup`` classifier
(``openmixup/models/classifiers/automix.py``) with its ``PixelMixBlock``
(``openmixup/models/heads/pmix_block.py``) and the ``CosineScheduleHook`` /
``CustomCosineAnnealingHook`` schedules (``openmixup/core/hooks/``).
"""
import copy
import logging
import math
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import print_log

from dm_plugin.registry import MIXERS
from dm_plugin.validation import check_choice, check_number
from ..base import BaseMixer, mix_scores
from .mix_block import MixBlock
from .utils import soft_cross_entropy

CLASSIFIER_PARTS = ('backbone', 'neck', 'head')
MASK_LOSS_MODES = ('L1', 'L1+Variance')
MASK_LOSS_ANNEALS = (None, 'cosine', 'compounded')
UPSAMPLE_MODES = ('nearest', 'bilinear')
NO_REPEAT_TRIES = 10


def cosine_between(start: float, end: float, fraction: float) -> float:
    """``end + (start - end) (1 + cos(π fraction)) / 2``: ``start`` at 0,
    ``end`` at 1 (mmcv's ``annealing_cos``)."""
    return end + (start - end) * (1 + math.cos(math.pi * fraction)) / 2


def momentum_at(iteration: int, max_iters: int, base: float, end: float,
                ramp_begin: float) -> float:
    """EMA momentum after iteration ``iteration`` (0-based) of
    ``max_iters``, as OpenMixup's ``CosineScheduleHook`` with
    ``adjust_scope=[ramp_begin, 1]`` and ``warming_up='constant'``: ``base``
    before iteration ``int(ramp_begin * max_iters)``, then
    ``cosine_between(base, end, iteration / max_iters)`` (the cosine runs on
    the whole training, so it joins in at its value there)."""
    if iteration < int(max_iters * ramp_begin):
        return base
    return cosine_between(base, end, iteration / max_iters)


def no_repeat_index(num: int, device: torch.device,
                    fallback_shift: bool) -> torch.Tensor:
    """(N,) partners with no sample drawn as its own, as OpenMixup's
    ``mix_shuffle_no_repeat``: the first of 10 uniform permutations without
    a fixed point, else (probability about 1 % at N = 16) a cyclic shift by
    a random ``s`` in [1, N - 2] (``fallback_shift``, the Mix Block's draw)
    or an 11th permutation as it comes (the classifier's draw). All on the
    device, no host sync."""
    rows = torch.arange(num, device=device)
    perms = torch.rand(NO_REPEAT_TRIES + 1, num, device=device).argsort(1)
    clean = (perms[:NO_REPEAT_TRIES] != rows).all(1)
    first = perms[clean.int().argmax()]
    if fallback_shift:
        shift = torch.randint(1, max(num - 1, 2), (), device=device)
        fallback = (rows + shift) % num
    else:
        fallback = perms[NO_REPEAT_TRIES]
    return torch.where(clean.any(), first, fallback)


@MIXERS.register_module()
class AutoMix(BaseMixer):
    """AutoMix (Liu et al., ECCV 2022), as OpenMixup's ``AutoMixup`` trains
    it: a Mix Block (:class:`MixBlock`) turns the momentum encoder's stage
    features of the batch into pixel-wise mixing masks, and is trained end
    to end, in the same step as the classifier, through that frozen encoder.

    Networks (OpenMixup's names in brackets):

    * the classifier's backbone, neck and ``head`` [``backbone_q``,
      ``head_mix_q``] train on the mixed sample with the head's own loss;
    * ``one_hot_head`` [``head_one_q``], a second head of the classifier's
      head type (own initialisation), trains on the clean batch:
      ``loss_one_hot = one_hot_loss_weight * CE``;
    * ``momentum_encoder`` holds EMA copies of backbone, neck, ``head``
      [``head_mix_k``] and ``one_hot_head`` [``head_one_k``], parameters
      only: ``ema = m * ema + (1 - m) * online`` once per iteration, whether
      AutoMix is drawn or not; its BatchNorm statistics are its own (its
      passes run in train mode); ``requires_grad=False``.

    One iteration:

    1. the encoder's ``feature_layer`` output ``z`` of the clean batch (the
       forward stops there, no gradient);
    2. Mix Block sample (λ, partners): partner weight
       ``sigmoid(upsample(MixBlock(z)))`` per pixel; ``loss_mix_block`` is
       the mixup cross-entropy of the encoder (its ``head``) on it, whose
       gradient reaches only the Mix Block, and ``loss_mask = w * (max(|mean
       over batch and pixels of (keep - λ)| - mask_margin, 0) [- 2 Var(keep)
       for 'L1+Variance'])``, ``keep`` the own-sample weight;
    3. classifier sample (a second λ and partners): mixed with the Mix
       Block's mask computed without gradient (rescaled to mean λ with
       probability ``mask_adjust``; plain mixup when λ is within
       ``lam_margin`` of 0 or 1); scores mixed with λ.

    Schedules, per iteration, as the authors' hooks
    (:meth:`set_train_progress`, called by ``MixerProgressHook``): the EMA
    momentum stays ``momentum`` for the first ``momentum_ramp_begin`` of
    training, then follows
    ``end_momentum - (end_momentum - momentum)(1 + cos(π t / T)) / 2``; the
    mask-loss weight ``w`` is ``mask_loss_weight``, or with
    ``mask_loss_anneal='cosine'`` falls as ``w0 (1 + cos(π t / T)) / 2`` (see
    docs/fidelity.md for ``'compounded'``, what the authors' hook computed).
    The Mix Block's own learning rate is set in the config
    (``paramwise_cfg`` + ``GroupCosineAnnealingLR``).

    Defaults follow the authors' CIFAR configs (OpenMixup
    ``cifar100/automix/basic/r18_l2_a2_near_L1_01_mlr5e_2.py``). For their
    ImageNet and fine-grained settings set ``lam_concat=True,
    end_momentum=0.99999, mask_loss_anneal='cosine'``. ``in_channels`` are
    the channels of ``feature_layer``'s output: 256 for ResNet(_CIFAR)-18
    ``layer3``, 1024 for ResNet-50 / ResNeXt-50.

    Args:
        in_channels (int): Channels of the ``feature_layer`` output.
        alpha (float): Beta concentration of both λ (> 0). Defaults to 2.0.
        mode (str): ``'batch'`` | ``'elem'`` | ``'pair'`` λ sharing, see
            :class:`BaseMixer`. Defaults to ``'batch'``.
        feature_layer (str): Backbone submodule feeding the Mix Block.
            Defaults to ``'layer3'`` (mmpretrain ResNets' stage 3).
        momentum (float): EMA momentum at the start, in [0, 1]. Defaults to
            0.999.
        end_momentum (float): EMA momentum at the end, in [momentum, 1].
            Defaults to 0.999999.
        momentum_ramp_begin (float): Fraction of training before the cosine
            ramp, in [0, 1]. Defaults to 0.1.
        reduction (int): Mix Block channel reduction. Defaults to 2.
        lam_concat (bool): Give the Mix Block λ as a feature channel.
            Defaults to False.
        upsample (str): ``'nearest'`` | ``'bilinear'`` upsampling of the
            mask logits to the image. Defaults to ``'nearest'``.
        mask_loss_weight (float): Mask-loss weight (>= 0). Defaults to 0.1.
        mask_loss_mode (str): ``'L1'`` | ``'L1+Variance'``. Defaults to
            ``'L1'``.
        mask_margin (float): Tolerance of the mask mean around λ, in
            [0, 1]. Defaults to 0.1.
        mask_loss_anneal (str, optional): None (constant), ``'cosine'`` or
            ``'compounded'`` annealing of the mask-loss weight to 0.
            Defaults to None.
        mask_adjust (float): Probability, per iteration, of rescaling the
            classifier's masks to mean λ, in [0, 1]. Defaults to 0.
        lam_margin (float): λ within this of 0 or 1 mixes the classifier's
            sample linearly, in [0, 0.5]. Defaults to 0.08.
        one_hot_loss_weight (float): Weight (>= 0) of ``loss_one_hot``; 0
            builds no one-hot head. Defaults to 1.0.
        shuffle_no_repeat (bool): Never draw a sample as its own partner
            (the authors' fine-grained configs); not with ``mode='pair'``.
            Defaults to False.

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
                 end_momentum: float = 0.999999,
                 momentum_ramp_begin: float = 0.1,
                 reduction: int = 2,
                 lam_concat: bool = False,
                 upsample: str = 'nearest',
                 mask_loss_weight: float = 0.1,
                 mask_loss_mode: str = 'L1',
                 mask_margin: float = 0.1,
                 mask_loss_anneal: Optional[str] = None,
                 mask_adjust: float = 0.,
                 lam_margin: float = 0.08,
                 one_hot_loss_weight: float = 1.0,
                 shuffle_no_repeat: bool = False):
        super().__init__(alpha, mode)
        if not isinstance(feature_layer, str) or not feature_layer:
            raise TypeError('feature_layer must name a backbone submodule, '
                            f'got {feature_layer!r}')
        check_number('momentum', momentum, low=0., high=1.,
                     low_inclusive=True)
        check_number('end_momentum', end_momentum, low=momentum, high=1.,
                     low_inclusive=True)
        check_number('momentum_ramp_begin', momentum_ramp_begin, low=0.,
                     high=1., low_inclusive=True)
        check_choice('upsample', upsample, UPSAMPLE_MODES)
        check_number('mask_loss_weight', mask_loss_weight, low=0.,
                     low_inclusive=True)
        check_choice('mask_loss_mode', mask_loss_mode, MASK_LOSS_MODES)
        check_number('mask_margin', mask_margin, low=0., high=1.,
                     low_inclusive=True)
        check_choice('mask_loss_anneal', mask_loss_anneal, MASK_LOSS_ANNEALS)
        check_number('mask_adjust', mask_adjust, low=0., high=1.,
                     low_inclusive=True)
        check_number('lam_margin', lam_margin, low=0., high=0.5,
                     low_inclusive=True)
        check_number('one_hot_loss_weight', one_hot_loss_weight, low=0.,
                     low_inclusive=True)
        if not isinstance(shuffle_no_repeat, bool):
            raise TypeError('shuffle_no_repeat must be a bool, got '
                            f'{shuffle_no_repeat!r}')
        if shuffle_no_repeat and mode == 'pair':
            raise ValueError("shuffle_no_repeat needs mode 'batch' or "
                             "'elem' (pairs never mix a sample with itself)")
        self.in_channels = in_channels
        self.feature_layer = feature_layer
        self.momentum = float(momentum)
        self.end_momentum = float(end_momentum)
        self.momentum_ramp_begin = float(momentum_ramp_begin)
        self.upsample = upsample
        self.mask_loss_weight = float(mask_loss_weight)
        self.mask_loss_mode = mask_loss_mode
        self.mask_margin = float(mask_margin)
        self.mask_loss_anneal = mask_loss_anneal
        self.mask_adjust = float(mask_adjust)
        self.lam_margin = float(lam_margin)
        self.one_hot_loss_weight = float(one_hot_loss_weight)
        self.shuffle_no_repeat = shuffle_no_repeat
        self.mix_block = self.build_mix_block(in_channels, reduction,
                                              lam_concat)
        self.one_hot_head = None
        self.momentum_encoder = None
        self.current_momentum = self.momentum
        self.current_mask_loss_weight = self.mask_loss_weight
        self._compounded = (0, self.mask_loss_weight)
        self._progress_seen = False
        self._losses = {}

    def build_mix_block(self, in_channels: int, reduction: int,
                        lam_concat: bool) -> nn.Module:
        return MixBlock(in_channels, reduction, lam_concat)

    # ------------------------------------------------ the mixer protocol

    def online_parts(self, classifier: nn.Module) -> dict:
        """The trained networks the momentum encoder follows: backbone, neck
        (when there is one), head and the one-hot head."""
        parts = {
            name: getattr(classifier, name)
            for name in CLASSIFIER_PARTS
            if getattr(classifier, name, None) is not None
        }
        if self.one_hot_head is not None:
            parts['one_hot_head'] = self.one_hot_head
        return parts

    def bind_classifier(self, classifier: nn.Module) -> None:
        """Build the one-hot head (a freshly initialised copy of the
        classifier's head) and the momentum encoder (frozen copies of
        :meth:`online_parts`); once built, copy the online weights into the
        encoder in place (after the classifier's ``init_weights``)."""
        if self.momentum_encoder is not None:
            with torch.no_grad():
                for name, part in self.online_parts(classifier).items():
                    target = self.momentum_encoder[name].state_dict()
                    for ema, online in zip(target.values(),
                                           part.state_dict().values()):
                        ema.copy_(online)
            return
        backbone = classifier.backbone
        try:
            backbone.get_submodule(self.feature_layer)
        except AttributeError:
            names = ', '.join(name for name, _ in backbone.named_children())
            raise ValueError(
                f'{type(self).__name__} reads feature_layer='
                f'{self.feature_layer!r} of the backbone, but '
                f'{type(backbone).__name__} has no such submodule (it has: '
                f'{names})') from None
        if self.one_hot_loss_weight > 0:
            self.one_hot_head = copy.deepcopy(classifier.head)
            if hasattr(self.one_hot_head, 'init_weights'):
                self.one_hot_head.init_weights()
        encoder = nn.ModuleDict({
            name: copy.deepcopy(part)
            for name, part in self.online_parts(classifier).items()
        })
        self.momentum_encoder = encoder.requires_grad_(False)

    def set_train_progress(self, iteration: int, max_iters: int) -> None:
        """Set the EMA momentum and mask-loss weight of training iteration
        ``iteration`` (0-based) of ``max_iters``; ``MixerProgressHook`` calls
        it before each iteration.

        The EMA step that opens iteration t is the authors' step after
        iteration t - 1 (they update after the optimizer step), so it uses
        the momentum of t - 1.
        """
        if max_iters < 1 or not 0 <= iteration <= max_iters:
            raise ValueError(f'iteration {iteration} of {max_iters} is out '
                             'of range')
        self._progress_seen = True
        self.current_momentum = momentum_at(
            max(iteration - 1, 0), max_iters, self.momentum,
            self.end_momentum, self.momentum_ramp_begin)
        self.current_mask_loss_weight = self.mask_loss_weight_at(
            iteration, max_iters)

    def mask_loss_weight_at(self, iteration: int, max_iters: int) -> float:
        """The mask-loss weight of iteration ``iteration``: constant,
        ``cosine_between(w0, 0, t / T)``, or (``'compounded'``) ``w0 *
        prod_{s=1..t} (1 + cos(π s / T)) / 2``, the value OpenMixup's
        ``CustomCosineAnnealingHook`` reaches by annealing its current value
        each iteration (kept incrementally here)."""
        if self.mask_loss_anneal is None:
            return self.mask_loss_weight
        if self.mask_loss_anneal == 'cosine':
            return cosine_between(self.mask_loss_weight, 0.,
                                  iteration / max_iters)
        step, value = self._compounded
        if iteration < step:
            step, value = 0, self.mask_loss_weight
        while step < iteration:
            step += 1
            value *= (1 + math.cos(math.pi * step / max_iters)) / 2
        self._compounded = (step, value)
        return value

    @torch.no_grad()
    def train_iter_update(self, classifier: nn.Module) -> None:
        """One EMA step of the momentum encoder's parameters towards the
        online ones (``lerp`` by ``1 - current_momentum``; device ops only,
        no host sync)."""
        if self.momentum_encoder is None:
            self.bind_classifier(classifier)
        if not self._progress_seen:
            self._progress_seen = True
            print_log(
                f'{type(self).__name__}: no MixerProgressHook called '
                'set_train_progress (outside a Runner?), so the EMA '
                'momentum stays '
                f'{self.current_momentum} and the mask-loss weight '
                f'{self.current_mask_loss_weight} (add '
                "dict(type='MixerProgressHook') for the schedules)",
                logger='current',
                level=logging.WARNING)
        ema, online = [], []
        for name, part in self.online_parts(classifier).items():
            ema += list(self.momentum_encoder[name].parameters())
            online += list(part.parameters())
        torch._foreach_lerp_(ema, online, 1 - self.current_momentum)

    def pop_losses(self) -> dict:
        """The losses of the last :meth:`mix`, handed over once."""
        losses, self._losses = self._losses, {}
        return losses

    # ------------------------------------------------------------ mixing

    def stage_features(self, inputs: torch.Tensor) -> torch.Tensor:
        """(N, in_channels, h, w) ``feature_layer`` output of the momentum
        encoder's backbone on ``inputs``, without gradients; the forward
        stops at that layer."""
        backbone = self.momentum_encoder['backbone']
        layer = backbone.get_submodule(self.feature_layer)

        def stop(module, args, output):
            raise FeatureReached(output)

        handle = layer.register_forward_hook(stop)
        feats = None
        try:
            with torch.no_grad():
                backbone(inputs)
        except FeatureReached as reached:
            feats = reached.output
        finally:
            handle.remove()
        if not isinstance(feats, torch.Tensor) or feats.dim() != 4:
            raise ValueError(
                f'{type(self).__name__} needs a feature map (N, C, h, w) '
                f'from backbone.{self.feature_layer}, got '
                f'{getattr(feats, "shape", type(feats))}')
        if feats.size(1) != self.in_channels:
            raise ValueError(
                f'{type(self).__name__} in_channels={self.in_channels} but '
                f'backbone.{self.feature_layer} outputs {feats.size(1)} '
                f'channels: set in_channels={feats.size(1)}')
        return feats

    def encoder_logits(self, inputs: torch.Tensor) -> torch.Tensor:
        """(N, num_classes) logits of the momentum encoder's mixup head."""
        feats = self.momentum_encoder['backbone'](inputs)
        if 'neck' in self.momentum_encoder:
            feats = self.momentum_encoder['neck'](feats)
        return self.momentum_encoder['head'](feats)

    def keep_mask(self, feats: torch.Tensor, lam: torch.Tensor,
                  index: torch.Tensor, size) -> torch.Tensor:
        """(N, 1, H, W) float32 weight of each sample's own pixels: the Mix
        Block's logits upsampled to ``size``, then ``1 - sigmoid``."""
        logits = self.mix_block(feats, lam, index)
        align = {} if self.upsample == 'nearest' else dict(
            align_corners=False)
        logits = F.interpolate(logits, size=size, mode=self.upsample, **align)
        return torch.sigmoid(-logits)

    def mask_loss(self, keep: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
        """``w * max(|mean(keep - λ)| - margin, 0)`` over batch and pixels,
        minus ``2 w Var(keep)`` in ``'L1+Variance'`` mode."""
        loss = ((keep - lam.view(-1, 1, 1, 1)).mean().abs() -
                self.mask_margin).clamp(min=0)
        if self.mask_loss_mode == 'L1+Variance':
            loss = loss - 2 * keep.var(correction=0)
        return self.current_mask_loss_weight * loss

    def adjust_mask(self, keep: torch.Tensor,
                    lam: torch.Tensor) -> torch.Tensor:
        """With probability ``mask_adjust``, rescale each mask to mean λ: a
        mask keeping too much of its sample scales its own weights, one
        keeping too little scales its partner's (OpenMixup's ``mask_adjust``,
        against the classifier sample's λ)."""
        eps = 1e-8
        clamped = keep.clamp(eps, 1 - eps)
        mean = clamped.mean(dim=(1, 2, 3), keepdim=True)
        lam = lam.view(-1, 1, 1, 1)
        shrunk = clamped * (lam / mean)
        grown = 1 - (1 - clamped) * ((1 - lam) / (1 - mean))
        adjusted = torch.where(mean > lam + eps, shrunk,
                               torch.where(mean < lam - eps, grown, keep))
        draw = torch.rand((), device=keep.device)
        return torch.where(draw < self.mask_adjust, adjusted, keep)

    def partner_index(self, num: int, device: torch.device,
                      fallback_shift: bool) -> torch.Tensor:
        if self.shuffle_no_repeat:
            return no_repeat_index(num, device, fallback_shift)
        return self.sample_index(num, device)

    def mix(self, inputs: torch.Tensor, scores: torch.Tensor,
            model: nn.Module):
        if self.momentum_encoder is None:
            self.bind_classifier(model)
        num, size = inputs.size(0), inputs.shape[-2:]
        feats = self.stage_features(inputs)

        index = self.partner_index(num, inputs.device, fallback_shift=True)
        lam = self.sample_lam(index)
        keep = self.keep_mask(feats, lam, index, size)
        logits = self.encoder_logits(
            torch.lerp(inputs[index], inputs, keep.to(inputs.dtype)))
        losses = dict(
            loss_mix_block=soft_cross_entropy(
                logits, mix_scores(scores, lam, index)).mean(),
            loss_mask=self.mask_loss(keep, lam))

        index = self.partner_index(num, inputs.device, fallback_shift=False)
        lam = self.sample_lam(index)
        with torch.no_grad():
            keep = self.keep_mask(feats, lam, index, size)
            if self.mask_adjust > 0:
                keep = self.adjust_mask(keep, lam)
        linear = (lam <= self.lam_margin) | (lam >= 1 - self.lam_margin)
        keep = torch.where(linear.view(-1, 1, 1, 1), lam.view(-1, 1, 1, 1),
                           keep)
        mixed = torch.lerp(inputs[index], inputs, keep.to(inputs.dtype))
        if self.one_hot_head is not None:
            logits = self.one_hot_head(model.extract_feat(inputs))
            losses['loss_one_hot'] = self.one_hot_loss_weight * \
                soft_cross_entropy(logits, scores).mean()
        self._losses = losses
        return mixed, mix_scores(scores, lam, index)

    def extra_repr(self) -> str:
        return (f'{super().extra_repr()}, in_channels={self.in_channels}, '
                f'feature_layer={self.feature_layer!r}, '
                f'momentum={self.momentum}->{self.end_momentum}, '
                f'upsample={self.upsample!r}, '
                f'mask_loss_weight={self.mask_loss_weight}, '
                f'mask_loss_mode={self.mask_loss_mode!r}, '
                f'mask_margin={self.mask_margin}, '
                f'mask_loss_anneal={self.mask_loss_anneal!r}, '
                f'mask_adjust={self.mask_adjust}, '
                f'lam_margin={self.lam_margin}, '
                f'one_hot_loss_weight={self.one_hot_loss_weight}, '
                f'shuffle_no_repeat={self.shuffle_no_repeat}')


class FeatureReached(Exception):
    """Raised by a forward hook to stop a backbone pass at the layer whose
    output it carries."""

    def __init__(self, output):
        super().__init__('feature layer reached')
        self.output = output
