"""An OptimWrapper that skips updates with NaN/Inf gradients."""
import logging
from typing import Dict, Optional

import torch
from mmengine.logging import MessageHub, print_log
from mmengine.optim import OptimWrapper
from mmpretrain.registry import OPTIM_WRAPPERS

from dm_plugin.validation import check_number

SKIP_COUNT_KEY = 'nonfinite_skips'


@OPTIM_WRAPPERS.register_module()
class SkipNonFiniteOptimWrapper(OptimWrapper):
    """:class:`mmengine.optim.OptimWrapper` that skips an update whose
    gradients are not all finite (a NaN/Inf loss gives such gradients)
    instead of writing NaN into the weights, and counts the skips.

    The decision is made on the gradients, which DDP has already averaged
    over the processes, so every rank skips the same updates (a per-rank
    loss check would let the replicas diverge). The check costs one host
    sync per update. Skips are logged and counted in the message hub
    (``'nonfinite_skips'``, saved with checkpoints); with
    :class:`NonFiniteLossHook` the log also names the loss part that went
    bad. Under ``--amp``, mmengine's ``AmpOptimWrapper`` skips such updates
    itself (its loss scaler).

    Args:
        max_skips (int, optional): Stop with an error once more updates
            than this have been skipped in the run. ``None``: no limit.
        **kwargs: :class:`OptimWrapper` arguments (``optimizer``,
            ``accumulative_counts``, ``clip_grad``).

    Raises:
        FloatingPointError: after more than ``max_skips`` skipped updates.
    """

    def __init__(self, *args, max_skips: Optional[int] = None, **kwargs):
        super().__init__(*args, **kwargs)
        if max_skips is not None:
            if not isinstance(max_skips, int):
                raise TypeError(
                    f'max_skips must be an int or None, got {max_skips!r}')
            check_number('max_skips', max_skips, low=0, low_inclusive=True)
        self.max_skips = max_skips
        self.skipped_last_update = False

    def update_params(self,
                      loss: torch.Tensor,
                      step_kwargs: Optional[Dict] = None,
                      zero_kwargs: Optional[Dict] = None) -> None:
        """Backward, then step unless a gradient is NaN/Inf."""
        self.skipped_last_update = False
        self.backward(self.scale_loss(loss))
        if not self.should_update():
            return
        if self.gradients_finite():
            self.step(**(step_kwargs or {}))
        else:
            self.skipped_last_update = True
            self._count_skip()
        self.zero_grad(**(zero_kwargs or {}))

    def gradients_finite(self) -> bool:
        """Whether every parameter gradient is finite: its min and max are
        (NaN propagates into both; one pass per tensor, no temporaries)."""
        extremes = [
            torch.stack(torch.aminmax(param.grad))
            for group in self.optimizer.param_groups
            for param in group['params']
            if param.grad is not None and param.grad.numel()
        ]
        return not extremes or bool(torch.stack(extremes).isfinite().all())

    def _count_skip(self) -> None:
        hub = MessageHub.get_current_instance()
        skips = hub.get_info(SKIP_COUNT_KEY, 0) + 1
        hub.update_info(SKIP_COUNT_KEY, skips)
        iteration = hub.get_info('iter', -1) + 1
        print_log(
            f'skipped the update of iteration {iteration}: its gradients are '
            f'not finite ({skips} updates skipped in this run)',
            logger='current',
            level=logging.WARNING)
        if self.max_skips is not None and skips > self.max_skips:
            raise FloatingPointError(
                f'{skips} updates had non-finite gradients, more than '
                f'max_skips={self.max_skips}; the run is diverging: lower the '
                'learning rate or check the data')
