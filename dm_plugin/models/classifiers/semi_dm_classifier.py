"""FixMatch, optionally with Decoupled Mixup between labeled and
pseudo-labeled unlabeled samples (FixMatch + DM).

Sohn et al. "FixMatch: Simplifying Semi-Supervised Learning with Consistency
and Confidence", NeurIPS 2020; Liu, Li et al. "Harnessing Hard Mixed Samples
with Decoupled Regularizer", NeurIPS 2023.
"""
import copy
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.models.classifiers import ImageClassifier
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from dm_plugin.registry import build_mixer
from dm_plugin.validation import check_choice, check_number

TEACHERS = ('online', 'ema')


def pseudo_labels(logits: torch.Tensor, threshold: float
                  ) -> Tuple[torch.Tensor, torch.Tensor]:
    """FixMatch's hard pseudo-labels and confidence mask.

    (N, C) logits -> (N,) argmax classes and (N,) float mask, 1 where the
    largest softmax probability is ``>= threshold``. No gradient flows.
    """
    probs = logits.detach().float().softmax(dim=-1)
    confidence, labels = probs.max(dim=-1)
    return labels, (confidence >= threshold).float()


def fixmatch_losses(labeled_logits: torch.Tensor, labels: torch.Tensor,
                    strong_logits: torch.Tensor, pseudo: torch.Tensor,
                    mask: torch.Tensor,
                    lambda_u: float) -> Dict[str, torch.Tensor]:
    """FixMatch's loss terms.

    ``loss_x``: cross-entropy of the (B, C) labeled logits with the (B,)
    labels. ``loss_u``: ``lambda_u`` times the (U,) cross-entropies of the
    (U, C) strong-view logits with the (U,) pseudo-labels, masked and averaged
    over all ``U`` unlabeled samples (not only the confident ones).
    """
    unlabeled = F.cross_entropy(
        strong_logits.float(), pseudo, reduction='none') * mask
    return dict(
        loss_x=F.cross_entropy(labeled_logits.float(), labels),
        loss_u=lambda_u * unlabeled.mean())


def pseudo_label_accuracy(pseudo: torch.Tensor, mask: torch.Tensor,
                          true_labels: torch.Tensor) -> torch.Tensor:
    """Accuracy of the kept (masked-in) pseudo-labels whose true label is
    known (``>= 0``); 0 when none is kept. (U,), (U,), (U,) -> scalar."""
    kept = mask.bool() & (true_labels >= 0)
    correct = kept & (pseudo == true_labels)
    return correct.sum().float() / kept.sum().clamp(min=1).float()


@MODELS.register_module()
class SemiDMClassifier(ImageClassifier):
    """FixMatch (+ Decoupled Mixup) semi-supervised image classifier.

    Papers: Sohn et al., "FixMatch", NeurIPS 2020; Liu, Li et al.,
    "Harnessing Hard Mixed Samples with Decoupled Regularizer", NeurIPS 2023.

    A training batch (from :class:`SemiSupervisedDataset` with
    ``semi_supervised_collate``) holds ``B`` labeled weak views, then ``U``
    unlabeled weak views, then the same ``U`` images as strong views. One
    forward pass gives their logits and

    * ``loss_x``: cross-entropy on the labeled views;
    * pseudo-labels: argmax of the weak-view softmax (of the model itself,
      detached, or of its EMA with ``teacher='ema'``), kept where the maximum
      probability is ``>= threshold`` (``mask_ratio`` logs the kept share);
    * ``loss_u``: ``lambda_u`` times the masked cross-entropy of the strong
      views against the pseudo-labels, averaged over all ``U``;
    * ``loss_dm`` (``dm=True``): the ``B`` labeled weak views and ``B``
      unlabeled weak views (confident ones first, picked at random) are mixed
      by ``mixer`` as one batch of ``2B`` (so on average half the pairs are
      labeled-unlabeled), with one-hot labels and pseudo-labels as scores; an
      unconfident sample gets an all-zero score, so it adds no target mass to
      its mixtures. The mixed batch is trained with ``dm_loss``
      (``DecoupledMixupLoss``): its decoupled term lets the model hold on to
      each confident class of a mixture without competing with the other.

    ``dm=False`` trains plain FixMatch through the same code: the loss is
    exactly ``loss_x + loss_u``. When the unlabeled samples' true labels are
    known (``unlabeled_gt_label``), ``pseudo_acc`` logs the accuracy of the
    kept pseudo-labels; they never enter a loss.

    With ``ema_momentum`` an exponential moving average of backbone, neck
    and head is kept (no gradients; ``ema = m * ema + (1 - m) * model``,
    FixMatch's convention, i.e. mmengine's EMA momentum ``1 - m``), updated
    at the start of every training step with the weights the previous
    optimizer step left, and used for :meth:`predict` (validation, test).

    Args:
        backbone (dict): Backbone config.
        neck (dict, optional): Neck config.
        head (dict): Head config with ``num_classes`` (e.g.
            ``LinearClsHead``); its own ``loss`` is not used in training.
        dm (bool): Add the Decoupled Mixup term. Defaults to True.
        mixer (dict): Mixer config from ``dm_plugin.registry.MIXERS``.
            Defaults to ``dict(type='Mixup', alpha=1.0)``.
        dm_loss (dict): Loss of the mixed batch; takes (N, C) logits and
            (N, C) scores. Defaults to
            ``dict(type='DecoupledMixupLoss', eta=0.1)``.
        threshold (float): Confidence threshold in [0, 1]. Defaults to 0.95.
        lambda_u (float): Weight of ``loss_u``. Defaults to 1.0.
        ema_momentum (float, optional): EMA decay in [0, 1), e.g. 0.999;
            ``None`` keeps no EMA. Defaults to None.
        teacher (str): Pseudo-labels from the ``'online'`` model (FixMatch)
            or its ``'ema'`` (needs ``ema_momentum``). Defaults to 'online'.
        pretrained, train_cfg, data_preprocessor, init_cfg: As in
            :class:`ImageClassifier`; batch augments must not be set.

    Shapes:
        inputs (B + 2U, C, H, W) with ``U = mu * B``; ``data_samples`` the B
        labeled samples (``gt_label``, optional ``unlabeled_gt_label`` (mu,)).
    """

    def __init__(self,
                 backbone: dict,
                 neck: Optional[dict] = None,
                 head: Optional[dict] = None,
                 dm: bool = True,
                 mixer: dict = dict(type='Mixup', alpha=1.0),
                 dm_loss: dict = dict(type='DecoupledMixupLoss', eta=0.1),
                 threshold: float = 0.95,
                 lambda_u: float = 1.0,
                 ema_momentum: Optional[float] = None,
                 teacher: str = 'online',
                 pretrained: Optional[str] = None,
                 train_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        if not isinstance(dm, bool):
            raise TypeError(f'dm must be a bool, got {dm!r}')
        check_number('threshold', threshold, low=0., high=1.,
                     low_inclusive=True)
        check_number('lambda_u', lambda_u, low=0., low_inclusive=True)
        if ema_momentum is not None:
            check_number('ema_momentum', ema_momentum, low=0.,
                         low_inclusive=True)
            if ema_momentum >= 1:
                raise ValueError(
                    f'ema_momentum must be < 1, got {ema_momentum}')
        check_choice('teacher', teacher, TEACHERS)
        if teacher == 'ema' and ema_momentum is None:
            raise ValueError("teacher='ema' needs ema_momentum (e.g. 0.999)")
        if train_cfg and train_cfg.get('augments'):
            raise ValueError('SemiDMClassifier mixes batches itself: remove '
                             'train_cfg.augments')
        super().__init__(backbone, neck, head, pretrained, train_cfg,
                         data_preprocessor, init_cfg)
        if getattr(self.data_preprocessor, 'batch_augments', None):
            raise ValueError('SemiDMClassifier mixes batches itself: remove '
                             'batch_augments from data_preprocessor')
        if self.head is None or not hasattr(self.head, 'num_classes'):
            raise ValueError('SemiDMClassifier needs a head with num_classes')
        self.dm = dm
        self.threshold = float(threshold)
        self.lambda_u = float(lambda_u)
        self.teacher = teacher
        self.mixer = build_mixer(mixer) if dm else None
        self.dm_loss = MODELS.build(dm_loss) if dm else None
        self.ema_momentum = ema_momentum
        self.ema = None
        if ema_momentum is not None:
            self.ema = copy.deepcopy(nn.ModuleDict(self.network_parts()))
            self.ema.requires_grad_(False).eval()

    def network_parts(self) -> Dict[str, nn.Module]:
        """The trained network: backbone, neck (if any) and head."""
        parts = dict(
            backbone=self.backbone,
            neck=getattr(self, 'neck', None),
            head=self.head)
        return {name: part for name, part in parts.items() if part is not None}

    def init_weights(self):
        """Initialise the network, then start the EMA from it."""
        super().init_weights()
        if self.ema is not None:
            self.ema.load_state_dict(
                nn.ModuleDict(self.network_parts()).state_dict())

    def train(self, mode: bool = True):
        """Set the training mode; the EMA always stays in eval mode."""
        super().train(mode)
        if self.ema is not None:
            self.ema.eval()
        return self

    @torch.no_grad()
    def update_ema(self) -> None:
        """``ema = m * ema + (1 - m) * model``; buffers (BN statistics) are
        copied."""
        for name, part in self.network_parts().items():
            ema_part = self.ema[name]
            for ema_param, param in zip(ema_part.parameters(),
                                        part.parameters()):
                ema_param.lerp_(param, 1 - self.ema_momentum)
            for ema_buffer, buffer in zip(ema_part.buffers(), part.buffers()):
                ema_buffer.copy_(buffer)

    def ema_feat(self, inputs: torch.Tensor) -> tuple:
        """Features of the EMA network (backbone, then neck)."""
        feats = self.ema['backbone'](inputs)
        if 'neck' in self.ema:
            feats = self.ema['neck'](feats)
        return feats

    def split_sizes(self, inputs: torch.Tensor,
                    data_samples: List[DataSample]) -> Tuple[int, int]:
        """(B, U): labeled and unlabeled counts of a collated batch."""
        num_labeled = len(data_samples)
        rest = inputs.size(0) - num_labeled
        if num_labeled == 0 or rest <= 0 or rest % (2 * num_labeled):
            raise ValueError(
                f'SemiDMClassifier got {inputs.size(0)} images for '
                f'{num_labeled} labeled samples; it expects B labeled views, '
                'then B*mu weak and B*mu strong unlabeled views. Train with '
                'SemiSupervisedDataset and '
                "collate_fn=dict(type='semi_supervised_collate')")
        return num_labeled, rest // 2

    def logits(self, inputs: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> (N, num_classes) logits of the model."""
        return self.head(self.extract_feat(inputs))

    def loss(self, inputs: torch.Tensor,
             data_samples: List[DataSample]) -> dict:
        """FixMatch (+ DM) losses and pseudo-label statistics."""
        num_labeled, num_unlabeled = self.split_sizes(inputs, data_samples)
        if self.ema is not None:
            self.update_ema()
        labels = torch.cat([s.gt_label for s in data_samples]).to(
            inputs.device)
        labeled_logits, weak_logits, strong_logits = self.logits(
            inputs).split([num_labeled, num_unlabeled, num_unlabeled])
        labeled_inputs = inputs[:num_labeled]
        weak_inputs = inputs[num_labeled:num_labeled + num_unlabeled]
        if self.teacher == 'ema':
            with torch.no_grad():
                weak_logits = self.ema['head'](self.ema_feat(weak_inputs))
        pseudo, mask = pseudo_labels(weak_logits, self.threshold)

        losses = fixmatch_losses(labeled_logits, labels, strong_logits,
                                 pseudo, mask, self.lambda_u)
        if self.dm:
            losses['loss_dm'] = self.mixed_loss(labeled_inputs, labels,
                                                weak_inputs, pseudo, mask)
        losses['mask_ratio'] = mask.mean()
        if 'unlabeled_gt_label' in data_samples[0]:
            true_labels = torch.cat(
                [s.unlabeled_gt_label for s in data_samples]).to(
                    inputs.device, non_blocking=True)
            losses['pseudo_acc'] = pseudo_label_accuracy(
                pseudo, mask, true_labels)
        return losses

    def mixed_loss(self, labeled_inputs: torch.Tensor, labels: torch.Tensor,
                   unlabeled_inputs: torch.Tensor, pseudo: torch.Tensor,
                   mask: torch.Tensor) -> torch.Tensor:
        """``dm_loss`` of the mixed batch of ``B`` labeled samples and ``B``
        distinct unlabeled partners, confident ones first.

        (B, C, H, W), (B,), (U, C, H, W), (U,), (U,) -> scalar, U >= B.
        """
        num_classes = self.head.num_classes
        # Random keys in [0, 1), lifted by 1 where confident: the top B are
        # a random draw among the confident samples, topped up with others.
        keys = torch.rand(mask.shape, device=mask.device) + mask
        partners = keys.topk(labels.numel()).indices
        partner_scores = F.one_hot(pseudo[partners], num_classes).float() \
            * mask[partners, None]
        scores = torch.cat(
            [F.one_hot(labels, num_classes).float(), partner_scores])
        inputs = torch.cat([labeled_inputs, unlabeled_inputs[partners]])
        if self.mixer.needs_model:
            inputs, scores = self.mixer(inputs, scores, model=self)
        else:
            inputs, scores = self.mixer(inputs, scores)
        return self.dm_loss(self.logits(inputs), scores)

    def predict(self,
                inputs: torch.Tensor,
                data_samples: Optional[List[DataSample]] = None,
                **kwargs) -> List[DataSample]:
        """Predict with the EMA network when there is one."""
        if self.ema is None:
            return super().predict(inputs, data_samples, **kwargs)
        return self.ema['head'].predict(
            self.ema_feat(inputs), data_samples, **kwargs)
