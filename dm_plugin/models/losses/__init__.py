from .decoupled_mixup_loss import (DecoupledMixupLoss, decoupled_bce_target,
                                   decoupled_regularizer, mixup_cross_entropy,
                                   positive_mask)

__all__ = [
    'DecoupledMixupLoss', 'decoupled_bce_target', 'decoupled_regularizer',
    'mixup_cross_entropy', 'positive_mask'
]
