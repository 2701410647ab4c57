"""DMixTuning: Self-Tuning plus Decoupled Mixup between labeled samples and
between each labeled sample and its pseudo-labeled unlabeled partner.

Liu, Li et al., "Harnessing Hard Mixed Samples with Decoupled Regularizer",
NeurIPS 2023; the implementation behind its numbers is OpenMixup's
``openmixup/models/semisup/dmix_tuning.py``. Self-Tuning: Wang et al.,
ICML 2021.
"""
from typing import List, Optional

import torch
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from dm_plugin.datasets.semi_supervised import item_partners
from .self_tuning import SelfTuning
from .semi_mixing import SemiMixupTerms


@MODELS.register_module()
class DMixTuning(SemiMixupTerms, SelfTuning):
    """DMixTuning (Self-Tuning + Decoupled Mixup), as OpenMixup's class.

    Paper: Liu, Li et al., "Harnessing Hard Mixed Samples with Decoupled
    Regularizer", NeurIPS 2023 (semi-supervised transfer learning), built on
    Self-Tuning (Wang et al., ICML 2021).

    :class:`SelfTuning`'s losses (``loss_cls``, ``loss_pgc_l``,
    ``loss_pgc_u``) plus

    * ``loss_mix_ll`` (weight ``ll_weight``): the labeled query views mixed
      with a random permutation of themselves;
    * ``loss_mix_lu`` (weight ``lu_weight`` times a ramp from 0 to 1,
      ``lu_ramp``; skipped, logged as 0, while the weight is 0): labeled
      query view ``i`` mixed with its fixed partner, the first unlabeled
      query view of its dataset item, target ``lam * onehot(label) +
      (1 - lam) * onehot(pseudo-label)``. Unlike DMixMatch every pair is
      kept: Self-Tuning's pseudo-labels have no confidence threshold.

    Both draw one ``lam ~ Beta(alpha, alpha)`` per batch, biased by
    ``lam_bias``, and are classified by a separate mix head (a copy of
    ``head`` trained with ``mix_loss`` by default) on the shared backbone.
    Prediction uses the online network and its main head.

    Args:
        backbone, neck, head, projector, queue_size, temperature, momentum:
            As in :class:`SelfTuning`.
        mix_head (dict, optional): The mix head; ``None``: a copy of
            ``head`` whose loss is ``mix_loss``. Defaults to None.
        mix_loss (dict): Loss of the default mix head. Defaults to
            ``dict(type='DecoupledMixupLoss', eta=1.0)``.
        alpha (float): Beta concentration of ``lam``. Defaults to 1.0.
        lam_bias (str): ``'labeled'``, ``'unlabeled'`` or ``'none'``.
            Defaults to ``'labeled'``.
        ll_weight (float): Weight of ``loss_mix_ll``. Defaults to 1.0.
        lu_weight (float): Final weight of ``loss_mix_lu``. Defaults to 1.0.
        lu_ramp (str): Ramp of ``loss_mix_lu``'s weight, see
            :func:`ramp_up`. Defaults to ``'compounded_cosine'``.
        pretrained, train_cfg, data_preprocessor, init_cfg: As in
            :class:`ImageClassifier`.

    Shapes:
        inputs (2B + 2U, C, H, W); ``data_samples`` the B labeled samples.
    """

    def __init__(self,
                 backbone: dict,
                 neck: Optional[dict] = None,
                 head: Optional[dict] = None,
                 projector: Optional[dict] = None,
                 mix_head: Optional[dict] = None,
                 mix_loss: dict = dict(type='DecoupledMixupLoss', eta=1.0),
                 queue_size: int = 32,
                 temperature: float = 0.07,
                 momentum: float = 0.999,
                 alpha: float = 1.0,
                 lam_bias: str = 'labeled',
                 ll_weight: float = 1.0,
                 lu_weight: float = 1.0,
                 lu_ramp: str = 'compounded_cosine',
                 pretrained: Optional[str] = None,
                 train_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(backbone, neck, head, projector, queue_size,
                         temperature, momentum, pretrained, train_cfg,
                         data_preprocessor, init_cfg)
        self.init_mixup_terms(head, mix_head, mix_loss, alpha, lam_bias,
                              ll_weight, lu_weight, lu_ramp)

    def loss(self, inputs: torch.Tensor,
             data_samples: List[DataSample]) -> dict:
        """Self-Tuning's losses plus the two mixup losses."""
        losses, (labeled, labels, unlabeled, pseudo) = \
            self.self_tuning_losses(inputs, data_samples)
        if self.ll_weight:
            losses['loss_mix_ll'] = self.ll_weight * self.labeled_mixup_loss(
                labeled, labels)
        if self.lu_weight:
            weight = self.scheduled_lu_weight()
            losses['lu_weight'] = inputs.new_tensor(weight)
            losses['loss_mix_lu'] = labeled.new_zeros(())
            if weight > 0:
                partners = item_partners(labels.numel(), unlabeled.size(0),
                                         labels.device)
                losses['loss_mix_lu'] = weight * \
                    self.labeled_unlabeled_mixup_loss(
                        labeled, unlabeled[partners], labels,
                        pseudo[partners], self.sample_lam(labeled.device))
        return losses
