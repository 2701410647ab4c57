"""RandomStateHook: generator states in checkpoints, neutral validation."""
import random

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS
from mmengine.runner import Runner

from conftest import unique_experiment_name
from dm_plugin.engine.checkpoint import load_checkpoint_file
from dm_plugin.engine.hooks.random_state_hook import (get_random_state,
                                                      set_random_state)


def draws():
    return (random.random(), np.random.rand(3).tolist(),
            torch.rand(3).tolist())


@HOOKS.register_module()
class RecordTorchStateHook(Hook):
    """Test hook: the torch generator state at the first iteration."""

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if not hasattr(self, 'state'):
            self.state = torch.get_rng_state()


def test_state_round_trips_through_a_weights_only_checkpoint(tmp_path):
    np.random.randn()  # numpy caches a gaussian: part of its state
    state = get_random_state()
    expected = draws()
    path = str(tmp_path / 'rng.pth')
    torch.save(dict(rng_state=state), path)
    draws()
    set_random_state(load_checkpoint_file(path)['rng_state'])
    assert draws() == expected


def test_checkpoint_holds_the_state(runner_cfg, tmp_path):
    cfg = runner_cfg(max_iters=1)
    cfg['custom_hooks'] = [dict(type='RandomStateHook')]
    Runner.from_cfg(cfg).train()
    state = load_checkpoint_file(str(tmp_path / 'work' / 'iter_1.pth'))[
        'rng_state']
    assert set(state) >= {'python', 'numpy', 'torch'}
    assert state['torch'].dtype == torch.uint8


def train_losses(runner_cfg, tmp_path, val_interval):
    cfg = runner_cfg(max_iters=4, batch_size=3,
                     work_dir=str(tmp_path / f'val{val_interval}'))
    cfg['train_cfg']['val_interval'] = val_interval
    cfg['custom_hooks'] = [dict(type='RandomStateHook')]
    cfg['experiment_name'] = unique_experiment_name(f'val{val_interval}')
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner.message_hub.get_scalar('train/loss').data[0]


def test_validation_does_not_change_training(runner_cfg, tmp_path):
    """Each validation creates a data-loader iterator, which draws from
    torch's generator; the hook hides that from training."""
    every_iteration = train_losses(runner_cfg, tmp_path, 1)
    at_the_end = train_losses(runner_cfg, tmp_path, 4)
    assert len(every_iteration) == 4
    np.testing.assert_array_equal(every_iteration, at_the_end)


def test_load_from_restores_nothing(runner_cfg, tmp_path):
    """Fine-tuning from a checkpoint starts from the configured seed."""
    def first_state(work, **extra):
        cfg = runner_cfg(max_iters=1, work_dir=str(tmp_path / work))
        cfg['custom_hooks'] = [dict(type='RandomStateHook'),
                               dict(type='RecordTorchStateHook')]
        cfg.update(experiment_name=unique_experiment_name(work), **extra)
        runner = Runner.from_cfg(cfg)
        runner.train()
        return next(h.state for h in runner.hooks
                    if isinstance(h, RecordTorchStateHook))

    fresh = first_state('fresh')
    loaded = first_state(
        'loaded', load_from=str(tmp_path / 'fresh' / 'iter_1.pth'))
    torch.testing.assert_close(loaded, fresh, rtol=0, atol=0)
