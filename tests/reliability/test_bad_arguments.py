"""Losses and every registered mixer reject bad arguments, naming them."""
import inspect
import math

import pytest

from dm_plugin.models.losses.decoupled_mixup_loss import DecoupledMixupLoss
from dm_plugin.registry import MIXERS, build_mixer

# Arguments some mixers cannot do without.
REQUIRED_ARGS = dict(in_channels=8)


def numeric_args(mixer_cls):
    """Names of the arguments with a (non-bool) number as default."""
    return [
        name for name, param in inspect.signature(
            mixer_cls.__init__).parameters.items()
        if isinstance(param.default, (int, float))
        and not isinstance(param.default, bool)
    ]


def build(name, **kwargs):
    params = inspect.signature(MIXERS.get(name).__init__).parameters
    required = {k: v for k, v in REQUIRED_ARGS.items() if k in params}
    return build_mixer(dict(type=name, **required, **kwargs))


MIXER_ARGS = [(name, arg) for name in sorted(MIXERS.module_dict)
              for arg in numeric_args(MIXERS.get(name))]


@pytest.mark.parametrize('name, arg', MIXER_ARGS)
@pytest.mark.parametrize('value, error', [(math.nan, (ValueError, TypeError)),
                                          (math.inf, (ValueError, TypeError)),
                                          ('0.5', TypeError)])
def test_mixer_numbers_are_checked(name, arg, value, error):
    """NaN/Inf: ValueError, or TypeError for integer arguments."""
    with pytest.raises(error, match=arg):
        build(name, **{arg: value})


@pytest.mark.parametrize('name', sorted(MIXERS.module_dict))
@pytest.mark.parametrize('kwargs, error, arg', [
    (dict(alpha=0), ValueError, 'alpha'),
    (dict(alpha=-1.0), ValueError, 'alpha'),
    (dict(alpha=True), TypeError, 'alpha'),
    (dict(mode='per_sample'), ValueError, 'mode'),
    (dict(lam=0.5), TypeError, 'lam'),  # not an argument
])
def test_mixer_arguments_are_checked(name, kwargs, error, arg):
    with pytest.raises(error, match=arg):
        build(name, **kwargs)


def test_unknown_mixer_lists_every_mixer():
    with pytest.raises(KeyError) as info:
        build_mixer(dict(type='MixUp'))
    for name in MIXERS.module_dict:
        assert name in str(info.value)


@pytest.mark.parametrize('kwargs, error, arg', [
    (dict(eta=-0.1), ValueError, 'eta'),
    (dict(eta=math.nan), ValueError, 'eta'),
    (dict(eta='0.1'), TypeError, 'eta'),
    (dict(mode='focal'), ValueError, 'mode'),
    (dict(reduction='avg'), ValueError, 'reduction'),
    (dict(pos_thr=-1e-3), ValueError, 'pos_thr'),
    (dict(xi=0.), ValueError, 'xi'),
    (dict(xi=1.5), ValueError, 'xi'),
    (dict(power=0.), ValueError, 'power'),
    (dict(loss_weight=math.inf), ValueError, 'loss_weight'),
    (dict(max_mixed=1), ValueError, 'max_mixed'),
    (dict(max_mixed=2.5), TypeError, 'max_mixed'),
    (dict(etta=0.1), TypeError, 'etta'),
])
def test_loss_arguments_are_checked(kwargs, error, arg):
    with pytest.raises(error, match=arg):
        DecoupledMixupLoss(**kwargs)
