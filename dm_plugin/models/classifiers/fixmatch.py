"""FixMatch: consistency between weak and strong views, with confident
pseudo-labels.

Sohn et al., "FixMatch: Simplifying Semi-Supervised Learning with Consistency
and Confidence", NeurIPS 2020 (reference code: google-research/fixmatch,
``fixmatch.py``).
"""
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.models.classifiers import ImageClassifier
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from dm_plugin.datasets.semi_supervised import split_semi_supervised_batch
from dm_plugin.validation import check_number
from .semi_ema import (copy_features, frozen_copy, load_copies,
                       momentum_update)


def pseudo_labels(logits: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """FixMatch's hard pseudo-labels and their confidence.

    (N, C) logits -> (N,) argmax classes and (N,) float32 largest softmax
    probability. No gradient flows.
    """
    confidence, labels = logits.detach().float().softmax(dim=-1).max(dim=-1)
    return labels, confidence


def masked_cross_entropy(logits: torch.Tensor, pseudo: torch.Tensor,
                         mask: torch.Tensor) -> torch.Tensor:
    """FixMatch's unlabeled loss: the (U,) cross-entropies of (U, C) strong
    logits against (U,) pseudo-labels, times the (U,) mask, averaged over
    all ``U`` (not only the kept ones)."""
    return (F.cross_entropy(logits.float(), pseudo, reduction='none') *
            mask).mean()


def pseudo_label_accuracy(pseudo: torch.Tensor, mask: torch.Tensor,
                          true_labels: torch.Tensor) -> torch.Tensor:
    """Accuracy of the kept (masked-in) pseudo-labels whose true label is
    known (``>= 0``); 0 when none is kept. (U,), (U,), (U,) -> scalar."""
    kept = mask.bool() & (true_labels >= 0)
    correct = kept & (pseudo == true_labels)
    return correct.sum().float() / kept.sum().clamp(min=1).float()


def gt_labels(data_samples: List[DataSample],
              device: torch.device) -> torch.Tensor:
    """(B,) class indices of the labeled data samples."""
    return torch.cat([s.gt_label for s in data_samples]).to(
        device, non_blocking=True)


def check_semi_supervised_model(model: ImageClassifier,
                                train_cfg: Optional[dict]) -> None:
    """Raise naming the problem when a semi-supervised classifier (built)
    has batch augments (it lays out and mixes its batches itself) or a head
    without ``num_classes``."""
    name = type(model).__name__
    if (train_cfg and train_cfg.get('augments')) or getattr(
            model.data_preprocessor, 'batch_augments', None):
        raise ValueError(f'{name} lays out and mixes its batches itself: '
                         'remove train_cfg.augments and the data '
                         "preprocessor's batch_augments")
    if model.head is None or not hasattr(model.head, 'num_classes'):
        raise ValueError(f'{name} needs a head with num_classes')


def unlabeled_statistics(data_samples: List[DataSample], pseudo: torch.Tensor,
                         mask: torch.Tensor) -> Dict[str, torch.Tensor]:
    """``mask_ratio`` and, where the data samples carry the unlabeled
    images' true labels (``unlabeled_gt_label``), ``pseudo_acc``. They are
    logged only; no loss uses the true labels."""
    stats = dict(mask_ratio=mask.float().mean())
    if 'unlabeled_gt_label' in data_samples[0]:
        true_labels = torch.cat(
            [s.unlabeled_gt_label for s in data_samples]).to(
                pseudo.device, non_blocking=True)
        stats['pseudo_acc'] = pseudo_label_accuracy(pseudo, mask, true_labels)
    return stats


@MODELS.register_module()
class FixMatch(ImageClassifier):
    """FixMatch, as its reference code trains it.

    Paper: Sohn et al., "FixMatch: Simplifying Semi-Supervised Learning with
    Consistency and Confidence", NeurIPS 2020.

    A training batch (from :class:`SemiSupervisedDataset` with
    ``semi_supervised_collate``) holds ``B`` labeled views, ``U = mu * B``
    unlabeled weak views and the same ``U`` images as strong views. One
    forward pass over all of them (batch-norm statistics over the whole
    batch, as the reference) gives

    * ``loss_x``: cross-entropy on the labeled views;
    * pseudo-labels: argmax of the (detached) softmax of the weak views,
      kept where its maximum is ``>= threshold`` (``mask_ratio``);
    * ``loss_u``: ``lambda_u`` times the masked cross-entropy of the strong
      views against the pseudo-labels, averaged over all ``U``.

    ``pseudo_acc`` logs the accuracy of the kept pseudo-labels when the
    dataset knows the unlabeled images' labels (they enter no loss).

    An exponential moving average of backbone, neck and head (parameters
    and batch-norm statistics, ``ema = m * ema + (1 - m) * model``) is kept
    for :meth:`predict` (validation, test); it is updated at the start of
    each training step with the weights the previous step left.

    Args:
        backbone (dict): Backbone config.
        neck (dict, optional): Neck config.
        head (dict): Head config with ``num_classes`` (``LinearClsHead``);
            its loss is not used in training.
        threshold (float): Confidence threshold in [0, 1]. Defaults to 0.95.
        lambda_u (float): Weight of ``loss_u``. Defaults to 1.0.
        ema_momentum (float): EMA decay in [0, 1). Defaults to 0.999.
        pretrained, train_cfg, data_preprocessor, init_cfg: As in
            :class:`ImageClassifier`; batch augments must not be set.

    Shapes:
        inputs (B + 2U, C, H, W); ``data_samples`` the B labeled samples
        (``gt_label``, optional ``unlabeled_gt_label`` (mu,)).
    """

    labeled_views = 1

    def __init__(self,
                 backbone: dict,
                 neck: Optional[dict] = None,
                 head: Optional[dict] = None,
                 threshold: float = 0.95,
                 lambda_u: float = 1.0,
                 ema_momentum: float = 0.999,
                 pretrained: Optional[str] = None,
                 train_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        check_number('threshold', threshold, low=0., high=1.,
                     low_inclusive=True)
        check_number('lambda_u', lambda_u, low=0., low_inclusive=True)
        check_number('ema_momentum', ema_momentum, low=0., high=1.,
                     low_inclusive=True)
        if ema_momentum == 1:
            raise ValueError('ema_momentum must be < 1, got 1')
        super().__init__(backbone, neck, head, pretrained, train_cfg,
                         data_preprocessor, init_cfg)
        check_semi_supervised_model(self, train_cfg)
        self.threshold = float(threshold)
        self.lambda_u = float(lambda_u)
        self.ema_momentum = float(ema_momentum)
        self.ema = frozen_copy(self.network_parts())

    def network_parts(self) -> Dict[str, Optional[nn.Module]]:
        """The trained classification network: backbone, neck, head."""
        return dict(
            backbone=self.backbone,
            neck=getattr(self, 'neck', None),
            head=self.head)

    def init_weights(self):
        """Initialise the network, then start the EMA from it."""
        super().init_weights()
        load_copies(self.ema, self.network_parts())

    def train(self, mode: bool = True):
        """Set the training mode; the EMA evaluation model stays in eval."""
        super().train(mode)
        self.ema.eval()
        return self

    def update_ema(self, momentum: float, buffers: bool = True) -> None:
        """One EMA step of every network part (see :func:`momentum_update`
        for ``buffers``)."""
        momentum_update(self.ema, self.network_parts(), momentum, buffers)

    def ema_features(self, inputs: torch.Tensor) -> tuple:
        """Features of the EMA network (backbone, then neck)."""
        return copy_features(self.ema, inputs)

    def logits(self, inputs: torch.Tensor) -> torch.Tensor:
        """(N, num_classes) logits of the model."""
        return self.head(self.extract_feat(inputs))

    def loss(self, inputs: torch.Tensor,
             data_samples: List[DataSample]) -> dict:
        """FixMatch's losses and pseudo-label statistics."""
        (labeled, ), weak, _ = split_semi_supervised_batch(
            inputs, len(data_samples))
        self.update_ema(self.ema_momentum)
        labels = gt_labels(data_samples, inputs.device)
        labeled_logits, weak_logits, strong_logits = self.logits(
            inputs).split([labeled.size(0), weak.size(0), weak.size(0)])
        pseudo, confidence = pseudo_labels(weak_logits)
        mask = (confidence >= self.threshold).float()
        losses = dict(
            loss_x=F.cross_entropy(labeled_logits.float(), labels),
            loss_u=self.lambda_u * masked_cross_entropy(
                strong_logits, pseudo, mask))
        losses.update(unlabeled_statistics(data_samples, pseudo, mask))
        return losses

    def predict(self,
                inputs: torch.Tensor,
                data_samples: Optional[List[DataSample]] = None,
                **kwargs) -> List[DataSample]:
        """Predict with the EMA network."""
        return self.ema['head'].predict(
            self.ema_features(inputs), data_samples, **kwargs)
