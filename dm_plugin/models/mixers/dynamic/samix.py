"""SAMix: AutoMix's momentum pipeline with SAMix's Mix Block.

Li, Liu et al. "Boosting Discriminative Visual Representation Learning with
Scenario-Agnostic Mixup", arXiv 2111.15454. The authors' code for the
supervised setting is OpenMixup's ``AutoMixup`` classifier with a
``PixelMixBlock`` configured as in ``configs/classification/*/samix/``.
"""
from typing import Optional

import torch.nn as nn

from dm_plugin.registry import MIXERS
from .automix import AutoMix
from .mix_block import SAMixBlock


@MIXERS.register_module()
class SAMix(AutoMix):
    """SAMix (Li et al., arXiv 2111.15454) in the supervised setting, as the
    authors' configs train it: :class:`AutoMix`'s momentum pipeline (heads,
    EMA schedule, losses, options) with :class:`SAMixBlock` (λ embedding by
    scaling the two samples' features, queries and keys on both samples,
    non-linear value network), bilinear upsampling and the ``'L1+Variance'``
    mask loss.

    The generator's loss (``loss_mix_block``) is the mixup cross-entropy of
    the momentum encoder, as in the authors' configs: their η of the
    η-balanced loss (``neg_weight``) weighs the non-mixed classes of a soft
    cross-entropy, whose targets are 0 there, so it does not change the loss
    (docs/fidelity.md).

    Defaults follow the authors' CIFAR-100 ResNet-18 800-epoch config
    (OpenMixup ``cifar100/samix/basic/r18/unsampling_modebilinear/
    r18_l2_a2_bili_val_dp0_mul_x_cat_L1_var_01_mlr5e_2_lam_mul_k0_25_
    mask_adjust0_25_ep800.py``): ``lam_rescale_k=0.25``, no value dropout,
    ``mask_adjust=0.25``; other arguments as :class:`AutoMix`.

    Args:
        in_channels (int): Channels of the ``feature_layer`` output.
        lam_rescale_k (float, optional): λ adjustment of the Mix Block, see
            :class:`SAMixBlock`; None uses λ as drawn. Defaults to 0.25.
        value_dropout (float): Dropout on the Mix Block's value map.
            Defaults to 0.
        upsample (str): Defaults to ``'bilinear'``.
        mask_loss_mode (str): Defaults to ``'L1+Variance'``.
        mask_adjust (float): Defaults to 0.25.
        **kwargs: The other arguments of :class:`AutoMix` (not
            ``lam_concat``: SAMix embeds λ by scaling).

    Shapes:
        inputs (N, C, H, W), scores (N, K) -> (N, C, H, W), (N, K).
    """

    def __init__(self,
                 in_channels: int,
                 lam_rescale_k: Optional[float] = 0.25,
                 value_dropout: float = 0.,
                 upsample: str = 'bilinear',
                 mask_loss_mode: str = 'L1+Variance',
                 mask_adjust: float = 0.25,
                 **kwargs):
        if 'lam_concat' in kwargs:
            raise TypeError('SAMix embeds λ by scaling the features '
                            '(lam_rescale_k); lam_concat is AutoMix\'s')
        self.lam_rescale_k = lam_rescale_k
        self.value_dropout = value_dropout
        super().__init__(
            in_channels,
            upsample=upsample,
            mask_loss_mode=mask_loss_mode,
            mask_adjust=mask_adjust,
            **kwargs)

    def build_mix_block(self, in_channels: int, reduction: int,
                        lam_concat: bool) -> nn.Module:
        return SAMixBlock(in_channels, reduction, self.lam_rescale_k,
                          self.value_dropout)

    def extra_repr(self) -> str:
        return (f'{super().extra_repr()}, lam_rescale_k='
                f'{self.lam_rescale_k}, value_dropout={self.value_dropout}')
