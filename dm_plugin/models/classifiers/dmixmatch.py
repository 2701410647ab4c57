"""DMixMatch: FixMatch with an EMA teacher plus Decoupled Mixup between
labeled samples and between each labeled sample and a pseudo-labeled
unlabeled partner.

Liu, Li et al., "Harnessing Hard Mixed Samples with Decoupled Regularizer",
NeurIPS 2023; the implementation behind its numbers is OpenMixup's
``openmixup/models/semisup/dmixmatch.py`` with its config
``configs/semisup/dmixmatch/cifar100/wrn28_8/``
``wrn28_8_10k_bs64_7_cos_randaug_ema_p1.py``.
FixMatch: Sohn et al., NeurIPS 2020.
"""
from typing import List, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from dm_plugin.datasets.semi_supervised import (item_partners,
                                                split_semi_supervised_batch)
from dm_plugin.validation import check_number
from .fixmatch import (FixMatch, gt_labels, masked_cross_entropy,
                       pseudo_labels, unlabeled_statistics)
from .semi_mixing import SemiMixupTerms
from .semi_schedules import ema_momentum, training_progress

# OpenMixup's cut-offs on the scheduled weight of loss_mix_lu: below the
# first the term is skipped, below the second it trains the mix head only.
SKIP_BELOW, HEAD_ONLY_BELOW = 1e-5, 1e-3


def partner_keep_mask(confidence: torch.Tensor, lam: torch.Tensor,
                      threshold: float, mix_threshold: float) -> torch.Tensor:
    """(B,) float: 1 where a partner's pseudo-label is confident enough to
    mix, ``confidence >= min(threshold, max(mix_threshold, 1 - lam))``
    (OpenMixup's ``mask_mix``)."""
    cutoff = (1 - lam).clamp(min=mix_threshold).clamp(max=threshold)
    return (confidence >= cutoff).float()


@MODELS.register_module()
class DMixMatch(SemiMixupTerms, FixMatch):
    """DMixMatch (FixMatch + Decoupled Mixup), as OpenMixup trains it.

    Paper: Liu, Li et al., "Harnessing Hard Mixed Samples with Decoupled
    Regularizer", NeurIPS 2023 (semi-supervised section), built on FixMatch
    (Sohn et al., NeurIPS 2020).

    A batch holds ``B`` labeled views, ``U = mu * B`` unlabeled weak views
    and the same ``U`` images as strong views (:class:`SemiSupervisedDataset`
    with ``semi_supervised_collate``). Separate forward passes give

    * ``loss_x``: cross-entropy of the labeled views (main head);
    * ``loss_mix_ll`` (weight ``ll_weight``): the labeled views mixed with a
      random permutation of themselves, ``lam ~ Beta(alpha, alpha)`` biased
      by ``lam_bias``, classified by the mix head and trained with its loss
      (``DecoupledMixupLoss(eta=1)``, λ-weighted);
    * pseudo-labels: argmax of the EMA teacher's softmax on the weak views;
      the teacher runs in training mode (batch-norm statistics of the weak
      batch, running statistics of its own) and takes no gradient;
    * ``loss_u``: ``lambda_u`` times the cross-entropy of the strong views
      (main head) against the pseudo-labels whose confidence is
      ``>= threshold``, averaged over all ``U``;
    * ``loss_mix_lu`` (weight ``lu_weight`` times a ramp from 0 to 1,
      ``lu_ramp``): labeled sample ``i`` mixed with its fixed partner, the
      first unlabeled sample of its dataset item (weak view ``i * mu``), with
      ``lam`` of the labeled side (``max(lam, 1 - lam)``) and target
      ``lam * onehot(label) + (1 - lam) * onehot(pseudo-label)``; pairs whose
      partner's confidence is below ``min(threshold, max(mix_threshold,
      1 - lam))`` are dropped (weight 0, still counted in the mean over
      ``B``). While the ramped weight is ``<= 1e-5`` the term is skipped
      (logged as 0), while it is ``< 1e-3`` it trains the mix head only.

    The teacher is an EMA of backbone, neck and head parameters, updated
    once per step (before the step, with the weights and the momentum of the
    step before); its momentum is ``ema_momentum`` for the first
    ``ema_ramp_start`` of the run, then follows OpenMixup's cosine to
    ``ema_end_momentum``. Validation and test predict with the teacher (in
    eval mode). Logged: ``mask_ratio``, ``pseudo_acc`` (when the unlabeled
    labels are known; no loss uses them), ``lu_weight``,
    ``teacher_momentum``.

    With ``ll_weight=lu_weight=0`` no mix head is built and the model is
    OpenMixup's FixMatch with the EMA teacher (``ema_pseudo=1``).

    Args:
        backbone, neck, head (dict): As in :class:`FixMatch`.
        mix_head (dict, optional): The mix head; ``None``: a copy of
            ``head`` whose loss is ``mix_loss``. Defaults to None.
        mix_loss (dict): Loss of the default mix head. Defaults to
            ``dict(type='DecoupledMixupLoss', eta=1.0)`` (λ-weighted).
        threshold (float): Pseudo-label confidence threshold. Defaults to
            0.95.
        lambda_u (float): Weight of ``loss_u``. Defaults to 1.0.
        ema_momentum (float): Teacher momentum at the start. Defaults to
            0.999.
        ema_end_momentum (float): Teacher momentum at the end, in
            ``[ema_momentum, 1)``. Defaults to 0.99999.
        ema_ramp_start (float): Share of the run before the momentum starts
            to follow the cosine. Defaults to 0.1.
        alpha (float): Beta concentration of ``lam``. Defaults to 1.0.
        lam_bias (str): ``'labeled'`` (``lam >= 0.5``), ``'unlabeled'`` or
            ``'none'``. Defaults to ``'labeled'``.
        mix_threshold (float): Lower cut-off of the partner confidence, in
            ``(0, threshold]``. Defaults to 0.95.
        ll_weight (float): Weight of ``loss_mix_ll``. Defaults to 1.0.
        lu_weight (float): Final weight of ``loss_mix_lu``. Defaults to 1.0.
        lu_ramp (str): Ramp of ``loss_mix_lu``'s weight, see
            :func:`ramp_up`. Defaults to ``'compounded_cosine'`` (what
            OpenMixup's hook computes).
        pretrained, train_cfg, data_preprocessor, init_cfg: As in
            :class:`ImageClassifier`.

    Shapes:
        inputs (B + 2U, C, H, W); ``data_samples`` the B labeled samples.
    """

    def __init__(self,
                 backbone: dict,
                 neck: Optional[dict] = None,
                 head: Optional[dict] = None,
                 mix_head: Optional[dict] = None,
                 mix_loss: dict = dict(type='DecoupledMixupLoss', eta=1.0),
                 threshold: float = 0.95,
                 lambda_u: float = 1.0,
                 ema_momentum: float = 0.999,
                 ema_end_momentum: float = 0.99999,
                 ema_ramp_start: float = 0.1,
                 alpha: float = 1.0,
                 lam_bias: str = 'labeled',
                 mix_threshold: float = 0.95,
                 ll_weight: float = 1.0,
                 lu_weight: float = 1.0,
                 lu_ramp: str = 'compounded_cosine',
                 pretrained: Optional[str] = None,
                 train_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(backbone, neck, head, threshold, lambda_u,
                         ema_momentum, pretrained, train_cfg,
                         data_preprocessor, init_cfg)
        check_number('ema_end_momentum', ema_end_momentum, low=ema_momentum,
                     high=1., low_inclusive=True)
        if ema_end_momentum == 1:
            raise ValueError('ema_end_momentum must be < 1, got 1')
        check_number('ema_ramp_start', ema_ramp_start, low=0., high=1.,
                     low_inclusive=True)
        check_number('mix_threshold', mix_threshold, low=0., high=threshold)
        self.ema_end_momentum = float(ema_end_momentum)
        self.ema_ramp_start = float(ema_ramp_start)
        self.mix_threshold = float(mix_threshold)
        self.init_mixup_terms(head, mix_head, mix_loss, alpha, lam_bias,
                              ll_weight, lu_weight, lu_ramp)

    def train(self, mode: bool = True):
        """Set the mode of the model and of the teacher alike."""
        return nn.Module.train(self, mode)

    def teacher_momentum(self, iteration: int, max_iters: int) -> float:
        """Momentum of the EMA step taken after ``iteration``."""
        return ema_momentum(iteration, max_iters, self.ema_momentum,
                            self.ema_end_momentum, self.ema_ramp_start)

    def loss(self, inputs: torch.Tensor,
             data_samples: List[DataSample]) -> dict:
        """DMixMatch's losses and statistics."""
        (labeled, ), weak, strong = split_semi_supervised_batch(
            inputs, len(data_samples))
        iteration, max_iters = training_progress()
        momentum = self.teacher_momentum(max(iteration - 1, 0), max_iters)
        self.update_ema(momentum, buffers=False)
        labels = gt_labels(data_samples, inputs.device)

        losses = dict(
            loss_x=F.cross_entropy(self.logits(labeled).float(), labels))
        if self.ll_weight:
            losses['loss_mix_ll'] = self.ll_weight * self.labeled_mixup_loss(
                labeled, labels)

        with torch.no_grad():
            teacher_logits = self.ema['head'](self.ema_features(weak))
        pseudo, confidence = pseudo_labels(teacher_logits)
        mask = (confidence >= self.threshold).float()
        losses['loss_u'] = self.lambda_u * masked_cross_entropy(
            self.logits(strong), pseudo, mask)

        if self.lu_weight:
            lu_weight = self.scheduled_lu_weight()
            losses['loss_mix_lu'] = self.mixed_partner_loss(
                labeled, weak, labels, pseudo, confidence, lu_weight)
            losses['lu_weight'] = inputs.new_tensor(lu_weight)
        losses['teacher_momentum'] = inputs.new_tensor(momentum)
        losses.update(unlabeled_statistics(data_samples, pseudo, mask))
        return losses

    def mixed_partner_loss(self, labeled: torch.Tensor, weak: torch.Tensor,
                           labels: torch.Tensor, pseudo: torch.Tensor,
                           confidence: torch.Tensor,
                           weight: float) -> torch.Tensor:
        """``weight`` times ``loss_mix_lu`` (0 while ``weight <= 1e-5``).

        (B, C, H, W) labeled views, (U, C, H, W) weak views, (B,) labels,
        (U,) pseudo-labels and confidences -> scalar.
        """
        if weight <= SKIP_BELOW:
            return labeled.new_zeros(())
        partners = item_partners(labels.numel(), weak.size(0), labels.device)
        lam = self.sample_lam(labeled.device)
        keep = partner_keep_mask(confidence[partners], lam, self.threshold,
                                 self.mix_threshold)
        return weight * self.labeled_unlabeled_mixup_loss(
            labeled, weak[partners], labels, pseudo[partners], lam, keep,
            detach_features=weight < HEAD_ONLY_BELOW)
