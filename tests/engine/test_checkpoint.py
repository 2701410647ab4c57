"""Checkpoints load with the safe loader; resume continues exactly."""
import copy
import os
import os.path as osp

import pytest
import torch
from mmengine.hooks import Hook
from mmengine.logging import HistoryBuffer
from mmengine.registry import HOOKS
from mmengine.runner import Runner

from dm_plugin.engine.checkpoint import (history_buffer_getattr,
                                         load_checkpoint_file)


@HOOKS.register_module()
class RecordFirstStepHook(Hook):
    """Records the iteration and optimizer state at the first step."""

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if not hasattr(self, 'first_iter'):
            self.first_iter = runner.iter
            self.optimizer_state = copy.deepcopy(
                runner.optim_wrapper.state_dict())


def test_checkpoint_loads_with_the_safe_loader(runner_cfg, tmp_path):
    Runner.from_cfg(runner_cfg(max_iters=2)).train()
    checkpoint = load_checkpoint_file(
        str(tmp_path / 'work' / 'iter_2.pth'), map_location='cpu')
    assert checkpoint['meta']['iter'] == 2
    buffer = checkpoint['message_hub']['log_scalars']['train/loss']
    assert isinstance(buffer, HistoryBuffer)
    assert len(buffer.data[0]) == 2  # one logged loss per iteration


def test_resume_continues_from_iteration_four(runner_cfg, tmp_path):
    first = Runner.from_cfg(runner_cfg(max_iters=4))
    first.train()
    saved = load_checkpoint_file(str(tmp_path / 'work' / 'iter_4.pth'))
    cfg = runner_cfg(max_iters=8)
    cfg.update(resume=True, custom_hooks=[dict(type='RecordFirstStepHook')])
    second = Runner.from_cfg(cfg)
    second.train()
    recorder, = [h for h in second.hooks
                 if isinstance(h, RecordFirstStepHook)]
    assert recorder.first_iter == 4
    assert second.iter == 8
    resumed = recorder.optimizer_state['state']
    assert resumed.keys() == saved['optimizer']['state'].keys()
    for key, state in saved['optimizer']['state'].items():
        torch.testing.assert_close(resumed[key]['momentum_buffer'],
                                   state['momentum_buffer'])
    assert osp.isfile(tmp_path / 'work' / 'iter_8.pth')


def test_restricted_getattr_resolves_only_statistics():
    assert history_buffer_getattr(HistoryBuffer, 'mean') is HistoryBuffer.mean
    with pytest.raises(ValueError, match='refusing getattr'):
        history_buffer_getattr(os, 'system')
    with pytest.raises(ValueError, match='refusing getattr'):
        history_buffer_getattr(HistoryBuffer, '__init__')
