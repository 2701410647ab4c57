"""The schedules at chosen iterations, against the OpenMixup hooks' update
rules simulated step by step."""
import math

import pytest
from mmengine.logging import MessageHub

from dm_plugin.models.classifiers.semi_schedules import (ema_momentum,
                                                         ramp_up,
                                                         training_progress)


def custom_cosine_annealing_hook(max_iters, until):
    """OpenMixup's CustomCosineAnnealingHook(attr_base=1, min_attr=0,
    by_epoch=False) on ``cos_annealing``: before_run sets 1, then every
    before_train_iter anneals the *current* value; DMixMatch's
    weight_mix_lu is ``1 - cos_annealing``. Returns the weights of
    iterations 0..until."""
    value, weights = 1.0, []
    for k in range(until + 1):
        value = 0 + 0.5 * (value - 0) * (math.cos(math.pi * k / max_iters) + 1)
        weights.append(1 - value)
    return weights


def cosine_schedule_hook(max_iters, base, end, scope=(0.1, 1.0)):
    """OpenMixup's CosineScheduleHook(adjust_scope=scope,
    warming_up='constant') on the EMA momentum, per iteration."""
    min_iter, max_iter = int(max_iters * scope[0]), max_iters
    momenta = []
    for k in range(max_iters + 1):
        if min_iter <= k <= max_iter:
            m = end - (end - base) * (math.cos(math.pi * k / max_iter) + 1) / 2
        else:
            m = base
        momenta.append(m)
    return momenta


@pytest.mark.parametrize('max_iters', [7, 100, 4000])
def test_compounded_cosine_is_what_the_hook_computes(max_iters):
    reference = custom_cosine_annealing_hook(max_iters, max_iters)
    for k in sorted({0, 1, 2, 5, max_iters // 3, max_iters // 2,
                     max_iters - 1, max_iters}):
        assert ramp_up('compounded_cosine', k, max_iters) == pytest.approx(
            reference[k], abs=1e-12), k
    assert ramp_up('compounded_cosine', 0, max_iters) == 0


def test_compounded_cosine_reaches_half_early():
    """0.5 after about 0.95 K^(2/3) iterations: 1.9k of DMixMatch's 88.8k."""
    max_iters = 88800
    weights = custom_cosine_annealing_hook(max_iters, 4000)
    half = next(k for k, w in enumerate(weights) if w >= 0.5)
    assert abs(half - 0.945 * max_iters**(2 / 3)) < 5
    assert 1850 < half < 1900
    assert ramp_up('compounded_cosine', half, max_iters) >= 0.5
    assert ramp_up('compounded_cosine', half - 1, max_iters) < 0.5
    assert ramp_up('compounded_cosine', 3600, max_iters) > 0.99


@pytest.mark.parametrize('k, expected', [(0, 0.), (25, 0.5 - 0.5**1.5),
                                          (50, 0.5), (100, 1.), (150, 1.)])
def test_cosine_ramp(k, expected):
    assert ramp_up('cosine', k, 100) == pytest.approx(
        (1 - math.cos(math.pi * min(k, 100) / 100)) / 2)
    assert ramp_up('cosine', k, 100) == pytest.approx(expected, abs=0.09)


def test_constant_ramp_and_bad_kind():
    assert ramp_up('constant', 0, 10) == 1.0
    with pytest.raises(ValueError, match='ramp'):
        ramp_up('linear', 0, 10)


@pytest.mark.parametrize('max_iters', [10, 88800])
def test_teacher_momentum_follows_the_cosine_schedule_hook(max_iters):
    reference = cosine_schedule_hook(max_iters, 0.999, 0.99999)
    start = int(0.1 * max_iters)
    for k in sorted({0, start - 1, start, max_iters // 2, max_iters - 1,
                     max_iters}):
        assert ema_momentum(k, max_iters, 0.999, 0.99999) == pytest.approx(
            reference[k], abs=1e-12), k
    assert ema_momentum(0, max_iters, 0.999, 0.99999) == 0.999
    assert ema_momentum(max_iters, max_iters, 0.999, 0.99999) == \
        pytest.approx(0.99999)


def test_teacher_momentum_rises_monotonically_after_the_start():
    momenta = [ema_momentum(k, 1000, 0.999, 0.99999) for k in range(1001)]
    assert momenta[:100] == [0.999] * 100
    assert all(b >= a for a, b in zip(momenta[100:], momenta[101:]))
    # The cosine runs over the whole run, so at 10% it starts just above
    # the base momentum.
    assert 0.999 < momenta[100] < 0.99903


def test_training_progress_reads_the_message_hub():
    # A new instance becomes the current one, without iteration info.
    hub = MessageHub.get_instance('test_training_progress_reads_the_hub')
    assert MessageHub.get_current_instance() is hub
    with pytest.raises(RuntimeError, match='iteration'):
        training_progress()
    hub.update_info('iter', 12)
    hub.update_info('max_iters', 30)
    assert training_progress() == (12, 30)
