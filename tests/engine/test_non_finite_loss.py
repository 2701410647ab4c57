"""NaN/Inf losses: stop naming iteration and part, or skip and count."""
import copy
import logging
import math
from contextlib import contextmanager
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.logging import MessageHub, MMLogger
from mmengine.registry import HOOKS
from mmengine.runner import Runner

from dm_plugin.engine import SkipNonFiniteOptimWrapper
from dm_plugin.engine.hooks import NonFiniteLossHook

NAN, INF = math.nan, math.inf


@HOOKS.register_module()
class PoisonBiasHook(Hook):
    """Test hook: the head's first bias is NaN during iteration ``at``
    (1-based); records parameters and momentum before and after it (the
    forward pass still updates BatchNorm statistics)."""

    def __init__(self, at: int):
        self.at = at

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter + 1 == self.at:
            bias = runner.model.head.fc.bias
            self.before = self.parameters(runner)
            self.momentum_before = self.momentum(runner)
            self.clean = bias.detach().clone()
            with torch.no_grad():
                bias[0] = NAN

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if runner.iter + 1 == self.at:
            with torch.no_grad():
                runner.model.head.fc.bias.copy_(self.clean)
            self.after = self.parameters(runner)
            self.momentum_after = self.momentum(runner)

    @staticmethod
    def parameters(runner):
        return {k: p.detach().clone()
                for k, p in runner.model.named_parameters()}

    @staticmethod
    def momentum(runner):
        state = runner.optim_wrapper.optimizer.state
        return [s['momentum_buffer'].clone() for s in state.values()]


@contextmanager
def warnings_logged():
    """The warning messages logged to mmengine's current logger."""
    messages = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: messages.append(record.getMessage())
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        yield messages
    finally:
        logger.removeHandler(handler)


def poisoned_cfg(runner_cfg, **optim_wrapper):
    """Poison iteration 2 of 3; the loss skips its own NaN-logit check (as
    it does on GPUs) so that the NaN reaches the loss value."""
    cfg = runner_cfg(max_iters=3, checkpoint_interval=1)
    cfg['model']['head']['loss']['check_values'] = False
    cfg['custom_hooks'] = [
        dict(type='NonFiniteLossHook'),
        dict(type='PoisonBiasHook', at=2)
    ]
    cfg['optim_wrapper'].update(optim_wrapper)
    return cfg


def test_nan_loss_stops_naming_iteration_and_parts(runner_cfg, tmp_path):
    runner = Runner.from_cfg(poisoned_cfg(runner_cfg))
    with pytest.raises(
            FloatingPointError,
            match=r'non-finite loss_dr, loss_mce at iteration 2 '
            r'\(loss=nan, loss_dr=nan, loss_mce=nan\)'):
        runner.train()
    # raised before the checkpoint hook: no checkpoint of NaN weights
    assert (tmp_path / 'work' / 'iter_1.pth').exists()
    assert not (tmp_path / 'work' / 'iter_2.pth').exists()


def test_skip_mode_skips_the_update_and_counts(runner_cfg):
    runner = Runner.from_cfg(
        poisoned_cfg(runner_cfg, type='SkipNonFiniteOptimWrapper'))
    with warnings_logged() as warnings:
        runner.train()
    assert runner.iter == 3
    skipped = [m for m in warnings if 'non-finite' in m or 'skipped' in m]
    assert skipped == [
        'skipped the update of iteration 2: its gradients are not finite '
        '(1 updates skipped in this run)',
        'non-finite loss_dr, loss_mce at iteration 2 (loss=nan, loss_dr=nan,'
        ' loss_mce=nan); the update was skipped'
    ]
    assert runner.message_hub.get_info('nonfinite_skips') == 1
    poison = next(h for h in runner.hooks if isinstance(h, PoisonBiasHook))
    torch.testing.assert_close(poison.after, poison.before, rtol=0, atol=0)
    torch.testing.assert_close(poison.momentum_after, poison.momentum_before,
                               rtol=0, atol=0)
    assert all(p.isfinite().all() for p in runner.model.parameters())


def run_hook(losses, optim_wrapper=None):
    hub = MessageHub.get_instance('test_non_finite_loss')
    for key, value in losses.items():
        hub.update_scalar(f'train/{key}', value)
    runner = SimpleNamespace(message_hub=hub, iter=6, epoch=0,
                             train_loop=None, optim_wrapper=optim_wrapper)
    NonFiniteLossHook().after_train_iter(runner, 6, outputs=losses)


@pytest.mark.parametrize('losses, bad', [
    (dict(loss=NAN, loss_mce=1.5, loss_dr=NAN), 'loss_dr'),
    (dict(loss=INF, loss_mce=INF, loss_dr=0.2), 'loss_mce'),
    (dict(loss=NAN, loss_bce=NAN), 'loss_bce'),
    (dict(loss=INF, loss_mce=3e38, loss_dr=3e38), 'loss'),  # sum overflows
])
def test_hook_names_the_bad_part(losses, bad):
    with pytest.raises(FloatingPointError,
                       match=rf'non-finite {bad} at iteration 7 '):
        run_hook(losses)


def test_hook_passes_finite_losses_and_warns_on_skips():
    with warnings_logged() as warnings:
        run_hook(dict(loss=1.0, loss_mce=0.9, loss_dr=0.1))
        assert warnings == []
        run_hook(dict(loss=NAN, loss_mce=NAN),
                 SimpleNamespace(skipped_last_update=True))
    assert warnings == [
        'non-finite loss_mce at iteration 7 (loss=nan, loss_mce=nan); the '
        'update was skipped'
    ]


def make_wrapper(**kwargs):
    model = nn.Linear(3, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    return model, SkipNonFiniteOptimWrapper(optimizer=optimizer, **kwargs)


def test_wrapper_steps_on_finite_and_skips_non_finite_gradients():
    MessageHub.get_instance('test_wrapper')  # a fresh current hub
    model, wrapper = make_wrapper()
    inputs = torch.randn(4, 3)
    start = copy.deepcopy(model.state_dict())
    wrapper.update_params(model(inputs).sum() * NAN)
    assert wrapper.skipped_last_update
    torch.testing.assert_close(model.state_dict(), start, rtol=0, atol=0)
    assert all(p.grad is None or not p.grad.any()
               for p in model.parameters())  # the NaN gradient is dropped
    wrapper.update_params(model(inputs).sum())
    assert not wrapper.skipped_last_update
    assert not torch.equal(model.weight, start['weight'])
    assert MessageHub.get_current_instance().get_info('nonfinite_skips') == 1


def test_wrapper_stops_after_max_skips():
    MessageHub.get_instance('test_max_skips')
    model, wrapper = make_wrapper(max_skips=1)
    loss = model(torch.randn(2, 3)).sum()
    wrapper.update_params(loss * INF)
    with pytest.raises(FloatingPointError, match='max_skips=1'):
        wrapper.update_params(model(torch.randn(2, 3)).sum() * INF)


@pytest.mark.parametrize('max_skips, error', [
    (-1, ValueError), (1.5, TypeError), (True, TypeError)])
def test_wrapper_rejects_bad_max_skips(max_skips, error):
    with pytest.raises(error, match='max_skips'):
        make_wrapper(max_skips=max_skips)


@pytest.mark.parametrize('bad', [NAN, INF, -INF])
def test_wrapper_sees_a_single_bad_gradient_element(bad):
    model, wrapper = make_wrapper()
    model(torch.randn(2, 3)).sum().backward()
    assert wrapper.gradients_finite()
    model.weight.grad[1, 2] = bad
    assert not wrapper.gradients_finite()
