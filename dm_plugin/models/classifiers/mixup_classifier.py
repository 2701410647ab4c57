"""Image classifier that mixes its own training batches."""
from typing import List, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.models.classifiers import ImageClassifier
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from dm_plugin.registry import build_mixer
from dm_plugin.validation import values_checkable
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
                 init_cfg: Optional[dict] = None):
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
                f'num_classes mismatch: labels reach {int(targets.max())} but the '
                f'head has num_classes={num_classes}')
        return F.one_hot(targets.long(), num_classes).float()

    def choose_mixer(self) -> Optional[nn.Module]:
        """A mixer drawn with ``mixer_probs`` (numpy's seeded generator), or
        ``None`` for no mixing."""
        if not self.mixers:
            return None
        choice = np.random.choice(len(self.mixer_probs), p=self.mixer_probs)
        return self.mixers[choice] if choice < len(self.mixers) else None

    def mix(self, inputs: torch.Tensor, data_samples: List[DataSample]
            ) -> torch.Tensor:
        """Mix the batch in place of its labels: returns the mixed inputs and
        sets each sample's ``gt_score`` to its mixed scores."""
        scores = self.one_hot_scores(data_samples)
        mixer = self.choose_mixer()
        if mixer is not None:
            if mixer.needs_model:
                inputs, scores = mixer(inputs, scores, model=self)
            else:
                inputs, scores = mixer(inputs, scores)
        attach_scores(data_samples, scores)
        return inputs

    def loss(self, inputs: torch.Tensor,
             data_samples: List[DataSample]) -> dict:
        """Mix the batch, then compute the head's losses on it."""
        inputs = self.mix(inputs, data_samples)
        feats = self.extract_feat(inputs)
        return self.head.loss(feats, data_samples)
