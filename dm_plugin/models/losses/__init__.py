from .decoupled_mixup_loss import (DecoupledMixupCE, DecoupledMixupLoss,
                                   decoupled_bce_target, decoupled_mixup_ce,
                                   mixup_cross_entropy,
                                   positive_mask, positive_threshold)

__all__ = [
    'DecoupledMixupCE', 'DecoupledMixupLoss', 'decoupled_bce_target',
    'decoupled_mixup_ce',
    'mixup_cross_entropy', 'positive_mask', 'positive_threshold'
]
