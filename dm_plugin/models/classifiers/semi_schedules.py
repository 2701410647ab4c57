"""Schedules of the semi-supervised classifiers: the ramp of the
labeled-unlabeled mixup weight and the EMA teacher's momentum.

They follow the OpenMixup hooks that DMixMatch's config (OpenMixup
``configs/semisup/dmixmatch/cifar100/wrn28_8/...``) trains with, as those
hooks compute them; the classifiers read the iteration from mmengine's
runtime information, so no extra hook is needed. Iterations count from 0
(``runner.iter`` before the step); ``max_iters`` is the run's length
(``max_epochs * len(dataloader)`` for epoch-based loops).
"""
import functools
import math
from typing import Tuple

import numpy as np
from mmengine.logging import MessageHub

from dm_plugin.validation import check_choice, check_number

RAMPS = ('compounded_cosine', 'cosine', 'constant')


def training_progress() -> Tuple[int, int]:
    """(iteration, max_iters) of the running training loop, from mmengine's
    message hub (``RuntimeInfoHook`` keeps them there)."""
    hub = MessageHub.get_current_instance()
    iteration, max_iters = hub.get_info('iter'), hub.get_info('max_iters')
    if iteration is None or not max_iters:
        raise RuntimeError(
            'the semi-supervised schedules need the training iteration: '
            "train with an mmengine Runner, or set MessageHub's 'iter' and "
            "'max_iters' (MessageHub.get_current_instance().update_info)")
    return int(iteration), int(max_iters)


@functools.lru_cache(maxsize=4)
def _log_cosine_products(max_iters: int) -> np.ndarray:
    """(max_iters + 1,) ``log prod_{j=1..k} (1 + cos(pi j / K)) / 2`` for
    ``k = 0 .. K``, summed as ``2 log cos(pi j / 2K)`` (no cancellation)."""
    steps = np.arange(1, max_iters + 1)
    logs = 2 * np.log(np.cos(np.pi * steps / (2 * max_iters)))
    return np.concatenate([[0.], np.cumsum(logs)])


def ramp_up(kind: str, iteration: int, max_iters: int) -> float:
    """A weight that rises from 0 at iteration 0 to 1 at ``max_iters``.

    * ``'compounded_cosine'``: ``1 - prod_{j=1..k} (1 + cos(pi j / K)) / 2``,
      what OpenMixup's ``CustomCosineAnnealingHook`` gives DMixMatch's
      ``weight_mix_lu``: the hook anneals the *current* value each iteration
      instead of the initial one, so the cosine factors multiply and the
      weight reaches 0.5 after about ``0.95 K^(2/3)`` iterations (1.9k of
      DMixMatch's 88.8k) and 0.99 after about ``1.8 K^(2/3)``.
    * ``'cosine'``: ``(1 - cos(pi k / K)) / 2``, the cosine ramp the hook is
      named for (0.5 at mid-training).
    * ``'constant'``: 1 from the start.
    """
    check_choice('ramp', kind, RAMPS)
    progress = min(max(iteration, 0), max_iters)
    if kind == 'constant':
        return 1.0
    if kind == 'cosine':
        return (1 - math.cos(math.pi * progress / max_iters)) / 2
    return float(-np.expm1(_log_cosine_products(max_iters)[progress]))


def ema_momentum(iteration: int, max_iters: int, base: float, end: float,
                 start: float = 0.1) -> float:
    """EMA teacher momentum at ``iteration``: OpenMixup's
    ``CosineScheduleHook(adjust_scope=[start, 1], warming_up='constant')``.

    ``base`` until iteration ``int(start * K)``, then
    ``end - (end - base) * (cos(pi k / K) + 1) / 2`` (the cosine runs over the
    whole run, so it starts just above ``base`` and reaches ``end`` at K).
    """
    check_number('start', start, low=0., high=1., low_inclusive=True)
    if iteration < int(start * max_iters):
        return base
    progress = min(iteration, max_iters) / max_iters
    return end - (end - base) * (math.cos(math.pi * progress) + 1) / 2
