"""Parameter schedulers that mmengine lacks, registered in mmengine's own
registry (next to its schedulers, so any default scope finds them)."""
import math

from mmengine.optim.scheduler import CosineAnnealingLR
from mmengine.registry import PARAM_SCHEDULERS


@PARAM_SCHEDULERS.register_module()
class GroupCosineAnnealingLR(CosineAnnealingLR):
    """mmengine's :class:`CosineAnnealingLR` with a floor per param group: a
    group holding an ``eta_min`` entry anneals to it, the others to the
    scheduler's ``eta_min``::

        lr_g(t) = eta_min_g + (lr_g(0) - eta_min_g) (1 + cos(π t / T_max)) / 2

    Groups get their entry through ``paramwise_cfg.custom_keys``, e.g. the
    Mix Block of AutoMix / SAMix on OpenMixup's ImageNet schedule (whole
    model 0.1 -> 0, Mix Block 0.1 -> 1e-3, without momentum for ResNet-50)::

        optim_wrapper = dict(
            optimizer=dict(type='SGD', lr=0.1, momentum=0.9,
                           weight_decay=1e-4),
            paramwise_cfg=dict(custom_keys={
                '.mix_block': dict(eta_min=1e-3, momentum=0.)}))
        param_scheduler = dict(type='GroupCosineAnnealingLR', eta_min=0.,
                               by_epoch=True)

    The value is computed in closed form each step (mmengine's chained form
    assumes one floor for all groups). Arguments as
    :class:`CosineAnnealingLR`; ``eta_min_ratio`` is not supported.
    """

    def __init__(self, optimizer, *args, eta_min: float = 0., **kwargs):
        if kwargs.get('eta_min_ratio') is not None:
            raise TypeError('GroupCosineAnnealingLR takes eta_min, per group '
                            'or for all, not eta_min_ratio')
        self.floors = [
            group.get('eta_min', eta_min) for group in optimizer.param_groups
        ]
        super().__init__(optimizer, *args, eta_min=eta_min, **kwargs)

    def _get_value(self) -> list:
        progress = (1 + math.cos(math.pi * self.last_step / self.T_max)) / 2
        return [
            floor + (base - floor) * progress
            for base, floor in zip(self.base_values, self.floors)
        ]
