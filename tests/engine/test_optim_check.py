"""A bad optimizer number is named before the optimizer is built."""
import math

import pytest
from mmengine.config import Config

from dm_plugin.engine.optim_check import check_optimizer
from engine_utils import load_tool


@pytest.mark.parametrize('option, error, message', [
    # torch: TypeError: '<' not supported between 'str' and 'float'
    ('lr=abc', TypeError, r"lr must be a number, got 'abc' \(str\)"),
    ('lr=nan', ValueError, 'lr must be finite, got nan'),  # trains NaN
])
def test_train_tool_names_the_key(runner_cfg, tmp_path, option, error,
                                  message):
    config = str(tmp_path / 'cfg.py')
    Config(runner_cfg()).dump(config)
    with pytest.raises(error, match=rf'optim_wrapper.optimizer.{message}'):
        load_tool('train').main(
            [config, '--cfg-options', f'optim_wrapper.optimizer.{option}'])


@pytest.mark.parametrize('betas, error', [
    (('0.9', 0.999), TypeError), ((0.9, ), ValueError),
    ((0.9, math.inf), ValueError), (0.9, ValueError)])
def test_tuple_arguments_are_checked(betas, error):
    with pytest.raises(error, match=r'optim_wrapper.optimizer.betas'):
        check_optimizer(dict(optimizer=dict(type='AdamW', lr=1e-3,
                                            betas=betas)))


def test_valid_and_non_numeric_arguments_pass():
    check_optimizer(dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9,
                                        nesterov=True, weight_decay=5e-4)))
    check_optimizer(dict(optimizer=dict(type='LBFGS', lr=1,
                                        line_search_fn='strong_wolfe')))
