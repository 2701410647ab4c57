"""Stop (or report skipped updates) on NaN/Inf losses, naming the part."""
import logging
import math
from typing import Dict, Optional

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.runner import EpochBasedTrainLoop
from mmpretrain.registry import HOOKS


def non_finite_parts(losses: Dict[str, float]) -> Dict[str, float]:
    """The non-finite entries of ``losses``; the parts (``loss_mce``,
    ``loss_dr``, ...) rather than their sum ``loss`` when a part is bad."""
    bad = {k: v for k, v in losses.items() if not math.isfinite(v)}
    parts = {k: v for k, v in bad.items() if k != 'loss'}
    return parts or bad


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Stop training at the first NaN/Inf loss, naming the iteration and the
    loss part that went bad (``loss_mce`` / ``loss_dr`` of
    :class:`DMClsHead`, ``loss_bce``, or whatever the head returns).

    It reads the values the logger already synchronised
    (``RuntimeInfoHook`` puts each iteration's losses in the message hub), so
    it costs no extra device sync, and it runs before the checkpoint hook,
    so no checkpoint of the broken weights is written. The bad update has
    been applied by then; to skip such updates instead, train with
    ``optim_wrapper=dict(type='SkipNonFiniteOptimWrapper', ...)``, which
    skips every update whose gradients are not finite. With it, this hook
    logs a warning naming the bad parts instead of raising.

    Raises:
        FloatingPointError: at the first iteration with a non-finite loss
            whose update was not skipped.
    """

    priority = 'ABOVE_NORMAL'

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        if not outputs:
            return
        hub = runner.message_hub
        losses = {
            key: hub.get_scalar(f'train/{key}').current()
            for key in outputs if key.startswith('loss')
        }
        bad = non_finite_parts(losses)
        if not bad:
            return
        where = f'iteration {runner.iter + 1}'
        if isinstance(runner.train_loop, EpochBasedTrainLoop):
            where += f' (epoch {runner.epoch + 1})'
        values = ', '.join(f'{k}={v}' for k, v in sorted(losses.items()))
        if getattr(runner.optim_wrapper, 'skipped_last_update', False):
            print_log(
                f'non-finite {", ".join(sorted(bad))} at {where} ({values}); '
                'the update was skipped',
                logger='current',
                level=logging.WARNING)
            return
        raise FloatingPointError(
            f'non-finite {", ".join(sorted(bad))} at {where} ({values}). '
            'Lower the learning rate, check the data, or skip such updates '
            "with optim_wrapper=dict(type='SkipNonFiniteOptimWrapper')")
