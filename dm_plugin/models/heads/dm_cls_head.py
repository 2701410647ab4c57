"""Linear classification head trained with the Decoupled Mixup loss."""
from typing import List

import torch
from mmpretrain.models.heads import LinearClsHead
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ..utils import stack_targets


@MODELS.register_module()
class DMClsHead(LinearClsHead):
    """:class:`LinearClsHead` whose loss is :class:`DecoupledMixupLoss`, with
    its terms logged separately.

    Paper: Liu, Li et al. "Harnessing Hard Mixed Samples with Decoupled
    Regularizer", NeurIPS 2023.

    Training returns ``loss_mce`` and ``loss_dr`` (``eta``-scaled) for
    ``mode='ce'`` (``loss_bce`` for ``mode='bce'``); mmengine optimizes their
    sum, which equals ``DecoupledMixupLoss.forward``. Prediction is that of
    :class:`LinearClsHead`.

    Args:
        num_classes (int): Number of classes.
        in_channels (int): Channels of the input feature.
        loss (dict): Loss config; must build a loss with ``loss_parts``.
            Defaults to ``dict(type='DecoupledMixupLoss', eta=0.1)``.
        **kwargs: Other :class:`LinearClsHead` arguments.

    Shapes:
        feats: tuple whose last item is (N, in_channels); logits (N, C).
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 loss: dict = dict(type='DecoupledMixupLoss', eta=0.1),
                 **kwargs):
        super().__init__(
            num_classes=num_classes,
            in_channels=in_channels,
            loss=loss,
            **kwargs)
        if not hasattr(self.loss_module, 'loss_parts'):
            raise TypeError(
                'DMClsHead logs the loss terms separately and needs a loss '
                'with loss_parts() (DecoupledMixupLoss); got '
                f'{type(self.loss_module).__name__}. Use LinearClsHead for '
                'other losses.')
        if self.cal_acc:
            raise ValueError('cal_acc is meaningless for mixed targets; '
                             'leave it False in DMClsHead')

    def _get_loss(self, cls_score: torch.Tensor,
                  data_samples: List[DataSample], **kwargs) -> dict:
        target = stack_targets(data_samples)
        parts = self.loss_module.loss_parts(
            cls_score, target, avg_factor=cls_score.size(0), **kwargs)
        return {f'loss_{name}': value for name, value in parts.items()}
