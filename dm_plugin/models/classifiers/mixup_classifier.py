"""Image classifier that mixes its own training batches."""
import time
from typing import List, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.models.classifiers import ImageClassifier
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from dm_plugin.registry import build_mixer
from dm_plugin.validation import check_choice, values_checkable
from ..utils import attach_scores, stack_targets


def build_mixer_probs(num_mixers: int,
                      mixer_probs: Optional[Sequence[float]]) -> np.ndarray:
    """Probabilities of [mixer_0, ..., mixer_{n-1}, no mixing].

    ``None`` picks the mixers uniformly and never skips mixing; otherwise the
    probabilities may sum to less than 1 and the rest is no mixing.
    """
    if mixer_probs is None:
        return np.array([1. / num_mixers] * num_mixers + [0.])
    probs = np.asarray(mixer_probs, dtype=np.float64)
    if probs.shape != (num_mixers, ):
        raise ValueError(f'mixer_probs has {probs.size} entries for '
                         f'{num_mixers} mixers')
    if not np.all(np.isfinite(probs)) or np.any(probs < 0):
        raise ValueError(f'mixer_probs must be non-negative, got {probs}')
    total = probs.sum()
    if total > 1 + 1e-6:
        raise ValueError(f'mixer_probs sum to {total} > 1')
    return np.append(probs, max(0., 1 - total))


def synchronize(device: torch.device) -> None:
    """Wait for the work queued on an accelerator ``device`` (no-op on
    CPU)."""
    if device.type != 'cpu':
        torch.accelerator.synchronize(device)


@MODELS.register_module()
class MixupClassifier(ImageClassifier):
    """An :class:`ImageClassifier` that mixes each training batch in
    :meth:`loss`, so that dynamic mixers (PuzzleMix, AutoMix, ...) can use
    the model itself; evaluation and prediction are unchanged.

    Used with :class:`DMClsHead` (or any head whose loss takes soft scores)
    it trains static or dynamic mixup with the Decoupled Mixup loss of Liu,
    Li et al. "Harnessing Hard Mixed Samples with Decoupled Regularizer",
    NeurIPS 2023.

    Args:
        backbone (dict): Backbone config.
        neck (dict, optional): Neck config.
        head (dict): Head config; its ``num_classes`` sizes the one-hot
            scores.
        mixer (dict | list[dict], optional): Mixer config(s) from
            ``dm_plugin.registry.MIXERS``; ``None`` trains without mixing.
        mixer_probs (list[float], optional): Probability of each mixer per
            iteration; what they leave to 1 is the probability of not mixing.
            ``None``: uniform over the mixers.
        pretrained, train_cfg, data_preprocessor, init_cfg: As in
            :class:`ImageClassifier`; ``train_cfg.augments`` must not be set
            (the batch would be mixed twice).
        log_mix_time (str): Which mixers' wall time is logged as
            ``mix_time`` (seconds spent this iteration in the mixers'
            ``train_iter_update`` and the drawn mixer's call): ``'dynamic'``
            those with ``needs_model``, ``'all'``, or ``'none'``. Defaults
            to ``'dynamic'``.
        sync_mix_time (bool): Synchronise the accelerator before and after
            the timed span, so ``mix_time`` is its device time. Off by
            default: on GPU ``mix_time`` is then host time (kernel launches
            plus whatever the mixer waits for), and timing adds no sync.
        channels_last (bool): Keep weights and inputs in the channels-last
            memory format (faster convolutions on recent GPUs, with
            ``--amp``). Defaults to False.
        compile (bool | dict): ``torch.compile`` the backbone and neck in
            place (``nn.Module.compile``; checkpoint keys do not change),
            with these ``torch.compile`` arguments when a dict. Defaults to
            False.

    Mixer protocol. A mixer is called as ``mixer(inputs, scores)``, or as
    ``mixer(inputs, scores, model=self)`` when it sets ``needs_model``, and
    returns ``(mixed_inputs, mixed_scores)``. It may also define:

    * ``bind_classifier(classifier)``: called at the end of ``__init__`` and
      of :meth:`init_weights`, to build or refresh state derived from the
      classifier (AutoMix's momentum encoder); must update modules in place
      once they exist.
    * ``train_iter_update(classifier)``: called once per training iteration,
      before mixing, whether or not the mixer is drawn (AutoMix's EMA step);
      must not sync the host with the device.
    * ``pop_losses() -> dict``: called right after the mixer's call; the
      returned losses (keys containing ``'loss'`` are optimised, others only
      logged, as mmengine's ``parse_losses`` does) are added to the head's
      (AutoMix's Mix Block losses).
    * ``set_train_progress(iteration, max_iters)``: called by
      ``MixerProgressHook`` before each training iteration (AutoMix's EMA
      momentum and mask-loss schedules).

    Shapes:
        inputs (N, C, H, W); mixed scores (N, num_classes).
    """

    def __init__(self,
                 backbone: dict,
                 neck: Optional[dict] = None,
                 head: Optional[dict] = None,
                 mixer: Union[dict, List[dict], None] = None,
                 mixer_probs: Optional[Sequence[float]] = None,
                 pretrained: Optional[str] = None,
                 train_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None,
                 log_mix_time: str = 'dynamic',
                 sync_mix_time: bool = False,
                 channels_last: bool = False,
                 compile: Union[bool, dict] = False):
        if train_cfg and train_cfg.get('augments'):
            raise ValueError(
                'MixupClassifier mixes batches itself: move '
                'train_cfg.augments into its `mixer` argument')
        super().__init__(backbone, neck, head, pretrained, train_cfg,
                         data_preprocessor, init_cfg)
        if getattr(self.data_preprocessor, 'batch_augments', None):
            raise ValueError(
                'MixupClassifier mixes batches itself: remove batch_augments '
                'from data_preprocessor and configure `mixer` instead')
        if self.head is None or not hasattr(self.head, 'num_classes'):
            raise ValueError('MixupClassifier needs a head with num_classes')
        if mixer is None:
            mixer = []
        elif isinstance(mixer, (dict, nn.Module)):
            mixer = [mixer]
        self.mixers = nn.ModuleList(
            m if isinstance(m, nn.Module) else build_mixer(m) for m in mixer)
        self.mixer_probs = (
            build_mixer_probs(len(self.mixers), mixer_probs)
            if self.mixers else None)
        check_choice('log_mix_time', log_mix_time, ('dynamic', 'all', 'none'))
        if not isinstance(sync_mix_time, bool):
            raise TypeError(
                f'sync_mix_time must be a bool, got {sync_mix_time!r}')
        self.log_mix_time = log_mix_time
        self.sync_mix_time = sync_mix_time
        self.bind_mixers()
        if not isinstance(channels_last, bool):
            raise TypeError(
                f'channels_last must be a bool, got {channels_last!r}')
        self.channels_last = channels_last
        if channels_last:
            self.to(memory_format=torch.channels_last)
        if not isinstance(compile, (bool, dict)):
            raise TypeError('compile must be a bool or a dict of '
                            f'torch.compile arguments, got {compile!r}')
        if compile:
            options = compile if isinstance(compile, dict) else {}
            for part in (self.backbone, self.neck):
                if part is not None:
                    part.compile(**options)

    def bind_mixers(self) -> None:
        """Call each mixer's ``bind_classifier(self)``, where defined."""
        for mixer in self.mixers:
            bind = getattr(mixer, 'bind_classifier', None)
            if bind is not None:
                bind(self)

    def init_weights(self) -> None:
        """Initialise as :class:`ImageClassifier`, then re-bind the mixers
        (AutoMix's momentum encoder starts from the initialised weights).
        With ``channels_last`` the weights are drawn in the default layout
        (the same numbers as without it) and converted afterwards."""
        if self.channels_last:
            self.to(memory_format=torch.contiguous_format)
        super().init_weights()
        self.bind_mixers()
        if self.channels_last:
            self.to(memory_format=torch.channels_last)

    def forward(self,
                inputs: torch.Tensor,
                data_samples: Optional[List[DataSample]] = None,
                mode: str = 'tensor'):
        """:meth:`ImageClassifier.forward`, with channels-last inputs when
        ``channels_last`` is set."""
        if self.channels_last and inputs.dim() == 4:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        return super().forward(inputs, data_samples, mode)

    def one_hot_scores(self, data_samples: List[DataSample]) -> torch.Tensor:
        """(N, num_classes) float scores of the batch's labels."""
        targets = stack_targets(data_samples)
        num_classes = self.head.num_classes
        if targets.dim() == 2:
            if targets.size(1) != num_classes:
                raise ValueError(
                    f'num_classes mismatch: gt_score has {targets.size(1)} '
                    f'classes but the head has {num_classes}')
            return targets.float()
        if values_checkable(targets) and (targets >= num_classes).any():
            raise ValueError(
                f'num_classes mismatch: labels reach {int(targets.max())} '
                f'but the head has num_classes={num_classes}')
        return F.one_hot(targets.long(), num_classes).float()

    def choose_mixer(self) -> Optional[nn.Module]:
        """A mixer drawn with ``mixer_probs`` (numpy's seeded generator), or
        ``None`` for no mixing."""
        if not self.mixers:
            return None
        choice = np.random.choice(len(self.mixer_probs), p=self.mixer_probs)
        return self.mixers[choice] if choice < len(self.mixers) else None

    def mix(self,
            inputs: torch.Tensor,
            data_samples: List[DataSample],
            extra_losses: Optional[dict] = None) -> torch.Tensor:
        """Mix the batch in place of its labels: returns the mixed inputs and
        sets each sample's ``gt_score`` to its mixed scores.

        Runs each mixer's ``train_iter_update`` first. ``extra_losses``, when
        given, receives the drawn mixer's ``pop_losses()`` and ``mix_time``
        (see the class docstring); a mixer that returns losses needs it.
        """
        scores = self.one_hot_scores(data_samples)
        mixer = self.choose_mixer()
        timed = mixer is not None and (
            self.log_mix_time == 'all' or
            (self.log_mix_time == 'dynamic' and mixer.needs_model))
        if timed and self.sync_mix_time:
            synchronize(inputs.device)
        start = time.perf_counter()
        for each in self.mixers:
            update = getattr(each, 'train_iter_update', None)
            if update is not None:
                update(self)
        if mixer is not None:
            if mixer.needs_model:
                inputs, scores = mixer(inputs, scores, model=self)
            else:
                inputs, scores = mixer(inputs, scores)
            if timed and self.sync_mix_time:
                synchronize(inputs.device)
            elapsed = time.perf_counter() - start
            pop_losses = getattr(mixer, 'pop_losses', None)
            losses = pop_losses() if pop_losses is not None else {}
            if extra_losses is not None:
                extra_losses.update(losses)
                if timed:
                    extra_losses['mix_time'] = torch.tensor(elapsed)
            elif losses:
                raise ValueError(
                    f'{type(mixer).__name__} returns losses '
                    f'({", ".join(losses)}); call mix() with an '
                    'extra_losses dict to receive them')
        attach_scores(data_samples, scores)
        return inputs

    def loss(self, inputs: torch.Tensor,
             data_samples: List[DataSample]) -> dict:
        """Mix the batch, then compute the head's losses on it, plus the
        mixer's own losses and ``mix_time`` (see the class docstring)."""
        extra = {}
        inputs = self.mix(inputs, data_samples, extra)
        feats = self.extract_feat(inputs)
        losses = self.head.loss(feats, data_samples)
        clash = losses.keys() & extra.keys()
        if clash:
            raise KeyError(
                f'the mixer and the head both return {sorted(clash)}')
        losses.update(extra)
        return losses
