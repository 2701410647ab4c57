"""MixerProgressHook hands (runner.iter, runner.max_iters) to the mixers
that take it, before every training iteration."""
from types import SimpleNamespace

import torch.nn as nn
from mmengine.runner import Runner

from dm_plugin.engine.hooks import MixerProgressHook


class ScheduledMixer(nn.Module):

    def __init__(self):
        super().__init__()
        self.calls = []

    def set_train_progress(self, iteration, max_iters):
        self.calls.append((iteration, max_iters))


def test_calls_every_mixer_that_has_a_schedule():
    model = nn.Module()
    model.mixers = nn.ModuleList([ScheduledMixer(), nn.Identity(),
                                  ScheduledMixer()])
    hook = MixerProgressHook()
    for step in (0, 1, 7):
        runner = SimpleNamespace(model=model, iter=step, max_iters=8)
        hook.before_train_iter(runner, batch_idx=step)
    for mixer in (model.mixers[0], model.mixers[2]):
        assert mixer.calls == [(0, 8), (1, 8), (7, 8)]



def test_every_runner_drives_the_schedules(runner_cfg):
    """A user's config that neither inherits dm-plugin's runtime nor lists
    the hook still hands the progress to the mixers (AutoMix's EMA ramp and
    mask-loss weight would otherwise stay at their start)."""
    cfg = runner_cfg(max_iters=3)
    assert 'custom_hooks' not in cfg
    runner = Runner.from_cfg(cfg)
    calls = []
    runner.model.mixers[0].set_train_progress = (
        lambda iteration, max_iters: calls.append((iteration, max_iters)))
    runner.train()
    assert calls == [(0, 3), (1, 3), (2, 3)]
    names = [type(hook).__name__ for hook in runner.hooks]
    assert names.count('MixerProgressHook') == 1
