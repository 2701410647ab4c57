from .decoupled_mixup_loss import (DecoupledCE, DecoupledMixupLoss,
                                   decoupled_mixup_ce)
from .targets import (bce_target, decoupled_weights, mixed_classes,
                      smooth_target)

__all__ = [
    'DecoupledCE', 'DecoupledMixupLoss', 'decoupled_mixup_ce', 'bce_target',
    'decoupled_weights', 'mixed_classes', 'smooth_target'
]
