"""The Decoupled Mixup terms that DMixMatch and DMixTuning add to FixMatch and
Self-Tuning (OpenMixup ``openmixup/models/semisup/dmixmatch.py`` and
``dmix_tuning.py``; Liu, Li et al., "Harnessing Hard Mixed Samples with
Decoupled Regularizer", NeurIPS 2023).

* ``loss_mix_ll``: Mixup between labeled samples (a random permutation of the
  labeled batch);
* ``loss_mix_lu``: Mixup of each labeled sample with a fixed unlabeled
  partner (the unlabeled sample of its dataset item), target
  ``lam * onehot(label) + (1 - lam) * onehot(pseudo-label)``.

Both draw one ``lam ~ Beta(alpha, alpha)`` per batch, biased to the labeled
side (``max(lam, 1 - lam)``) by default, and are classified by a separate
mix head on the shared backbone and trained with its loss
(``DecoupledMixupLoss(eta=1)``, λ-weighted, in the published config).
"""
import copy
from typing import Optional

import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS

from dm_plugin.validation import check_choice, check_number
from .semi_schedules import RAMPS, ramp_up, training_progress

LAM_BIASES = ('labeled', 'unlabeled', 'none')


def sample_mix_ratio(alpha: float, bias: str,
                     device: torch.device) -> torch.Tensor:
    """0-d float32 ``lam ~ Beta(alpha, alpha)`` drawn on ``device``, made
    ``>= 0.5`` (``bias='labeled'``), ``<= 0.5`` (``'unlabeled'``) or left
    as drawn (``'none'``)."""
    concentration = torch.tensor(alpha, device=device)
    lam = torch.distributions.Beta(
        concentration, concentration, validate_args=False).sample()
    if bias == 'labeled':
        return torch.maximum(lam, 1 - lam)
    if bias == 'unlabeled':
        return torch.minimum(lam, 1 - lam)
    return lam


def mix_pairs(first: torch.Tensor, second: torch.Tensor,
              lam: torch.Tensor) -> torch.Tensor:
    """``lam * first + (1 - lam) * second`` for same-shape tensors."""
    lam = lam.to(first.dtype)
    return lam * first + (1 - lam) * second


class SemiMixupTerms:
    """Mixin of DMixMatch and DMixTuning: the mix head and the two mixup
    losses. The class using it is an ``ImageClassifier`` (``extract_feat``,
    ``head``) and calls :meth:`init_mixup_terms` in its ``__init__``.
    """

    def init_mixup_terms(self, head: dict, mix_head: Optional[dict],
                         mix_loss: dict, alpha: float, lam_bias: str,
                         ll_weight: float, lu_weight: float,
                         lu_ramp: str) -> None:
        """Check the mixup arguments and build the mix head (a copy of
        ``head`` trained with ``mix_loss`` unless ``mix_head`` is given;
        none when both weights are 0)."""
        check_number('alpha', alpha, low=0.)
        check_choice('lam_bias', lam_bias, LAM_BIASES)
        check_number('ll_weight', ll_weight, low=0., low_inclusive=True)
        check_number('lu_weight', lu_weight, low=0., low_inclusive=True)
        check_choice('lu_ramp', lu_ramp, RAMPS)
        self.alpha = float(alpha)
        self.lam_bias = lam_bias
        self.ll_weight = float(ll_weight)
        self.lu_weight = float(lu_weight)
        self.lu_ramp = lu_ramp
        self.mix_head = None
        if self.ll_weight or self.lu_weight:
            if mix_head is None:
                mix_head = dict(copy.deepcopy(head), loss=mix_loss)
            self.mix_head = MODELS.build(mix_head)

    def scheduled_lu_weight(self) -> float:
        """``lu_weight`` times its ramp at the current iteration."""
        if not self.lu_weight:
            return 0.
        return self.lu_weight * ramp_up(self.lu_ramp, *training_progress())

    def sample_lam(self, device: torch.device) -> torch.Tensor:
        return sample_mix_ratio(self.alpha, self.lam_bias, device)

    def mixed_logits(self, inputs: torch.Tensor,
                     detach_features: bool = False) -> torch.Tensor:
        """(N, num_classes) mix-head logits of mixed images."""
        feats = self.extract_feat(inputs)
        if detach_features:
            feats = tuple(feat.detach() for feat in feats)
        return self.mix_head(feats)

    def labeled_mixup_loss(self, inputs: torch.Tensor,
                           labels: torch.Tensor) -> torch.Tensor:
        """``loss_mix_ll``: (B, C, H, W) labeled images mixed with a random
        permutation of themselves, (B,) labels -> scalar."""
        num_classes = self.head.num_classes
        index = torch.randperm(labels.numel(), device=labels.device)
        lam = self.sample_lam(inputs.device)
        scores = F.one_hot(labels, num_classes).float()
        mixed_scores = mix_pairs(scores, scores[index], lam)
        logits = self.mixed_logits(mix_pairs(inputs, inputs[index], lam))
        return self.mix_head.loss_module(logits, mixed_scores)

    def labeled_unlabeled_mixup_loss(
            self,
            labeled: torch.Tensor,
            partners: torch.Tensor,
            labels: torch.Tensor,
            pseudo: torch.Tensor,
            lam: torch.Tensor,
            weight: Optional[torch.Tensor] = None,
            detach_features: bool = False) -> torch.Tensor:
        """``loss_mix_lu``: each labeled image mixed with its partner.

        Args:
            labeled, partners (Tensor): (B, C, H, W) images, pair ``i`` is
                ``(labeled[i], partners[i])``.
            labels, pseudo (Tensor): (B,) labels and partner pseudo-labels.
            lam (Tensor): 0-d ratio of the labeled side.
            weight (Tensor, optional): (B,) pair weights (0 drops a pair);
                the loss is averaged over all ``B`` pairs.
            detach_features (bool): Train only the mix head on this term.

        Returns:
            Tensor: scalar loss.
        """
        num_classes = self.head.num_classes
        scores = mix_pairs(
            F.one_hot(labels, num_classes).float(),
            F.one_hot(pseudo, num_classes).float(), lam)
        logits = self.mixed_logits(
            mix_pairs(labeled, partners, lam), detach_features)
        return self.mix_head.loss_module(
            logits, scores, weight=weight, avg_factor=labels.numel())
