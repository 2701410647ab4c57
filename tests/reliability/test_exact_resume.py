"""A run killed mid-epoch and resumed equals an uninterrupted run."""
import os.path as osp
import signal
import subprocess
import sys

import pytest
import torch
from mmengine.runner import Runner

from conftest import unique_experiment_name
from dm_plugin.engine.checkpoint import load_checkpoint_file
from reliability_utils import (ROOT, dump_config, exact_resume_cfg,
                               logged_losses, output_of, run_train,
                               train_env, wait_for)


def final_state(path: str) -> dict:
    checkpoint = load_checkpoint_file(path)
    return dict(model=checkpoint['state_dict'],
                optimizer=checkpoint['optimizer']['state'])


def by_epoch(cfg: dict, max_epochs: int) -> dict:
    """The same run with an epoch-based loop, checkpoints and validation
    after every epoch (how every shipped schedule trains)."""
    cfg['train_cfg'] = dict(by_epoch=True, max_epochs=max_epochs,
                            val_interval=1)
    cfg['default_hooks']['checkpoint'].update(by_epoch=True, interval=1)
    return cfg


# loop: (config, iteration the kill happens in, checkpoint resumed, last)
# 12 images, batch 4: 3 iterations per epoch, 6 in all.
LOOPS = {
    # checkpoints at iterations 2 and 4 (mid-epoch); killed in iteration 3;
    # the resume replays epoch 2's first two batches
    'iter': (lambda cfg: cfg, 3, 'iter_2.pth', 'iter_6.pth'),
    # checkpoint after epoch 1; killed in iteration 5, mid-epoch 2; the
    # resume reruns epoch 2 from its first batch
    'epoch': (lambda cfg: by_epoch(cfg, max_epochs=2), 5, 'epoch_1.pth',
              'epoch_2.pth'),
}


@pytest.mark.parametrize('loop', list(LOOPS))
def test_sigkill_mid_epoch_then_resume_equals_uninterrupted(
        runner_cfg, tmp_path, loop):
    """A run killed (SIGKILL) mid-epoch and resumed with ``--resume`` logs
    the same losses and ends with the same weights and momentum, bit for
    bit, as an uninterrupted run, with validation after each checkpoint."""
    adapt, kill_at, resumed_from, last = LOOPS[loop]
    cfg = adapt(exact_resume_cfg(runner_cfg(max_iters=6,
                                            checkpoint_interval=2)))
    config = dump_config(cfg, str(tmp_path / 'exact.py'))
    ref_dir, killed_dir = str(tmp_path / 'ref'), str(tmp_path / 'killed')

    ref = run_train([config, '--work-dir', ref_dir], timeout=240)
    assert ref.returncode == 0, output_of(ref)

    marker = str(tmp_path / 'stalled')
    stalled = dict(cfg, custom_hooks=cfg['custom_hooks'] + [
        dict(type='StallAfterIterHook', at=kill_at, marker=marker)])
    stalled_config = dump_config(stalled, str(tmp_path / 'stalled.py'))
    process = subprocess.Popen(
        [sys.executable, 'tools/train.py', stalled_config, '--work-dir',
         killed_dir], cwd=ROOT, env=train_env(),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(marker, process, timeout=240)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert open(osp.join(killed_dir, 'last_checkpoint')).read().endswith(
        resumed_from)
    killed_losses = logged_losses(killed_dir)
    assert sorted(killed_losses) == list(range(1, kill_at + 1))

    resumed = run_train([config, '--work-dir', killed_dir, '--resume'],
                        timeout=240)
    assert resumed.returncode == 0, output_of(resumed)
    assert resumed_from in output_of(resumed)

    ref_losses = logged_losses(ref_dir)
    assert sorted(ref_losses) == [1, 2, 3, 4, 5, 6]
    assert set(ref_losses[1]) == {'loss', 'loss_mce', 'loss_dr'}
    # The killed run's iterations before the checkpoint are kept, the
    # resumed run logs the rest (repeating the lost ones, which matched).
    assert killed_losses[kill_at] == ref_losses[kill_at]
    assert logged_losses(killed_dir) == ref_losses
    torch.testing.assert_close(
        final_state(osp.join(killed_dir, last)),
        final_state(osp.join(ref_dir, last)), rtol=0, atol=0)


@pytest.mark.parametrize('with_hook', [True, False])
def test_resume_in_process_reproduces_random_draws(runner_cfg, tmp_path,
                                                   with_hook):
    """Same check without subprocesses (12 images, batch 3: 4 iterations,
    resume at 2); without RandomStateHook the resumed iterations draw other
    λ and mixers."""
    def make(work, max_iters, resume=False):
        cfg = exact_resume_cfg(runner_cfg(
            max_iters=max_iters, checkpoint_interval=2, batch_size=3,
            work_dir=str(tmp_path / work)))
        if not with_hook:
            cfg['custom_hooks'] = []
        cfg.update(resume=resume, log_level='ERROR',
                   experiment_name=unique_experiment_name(f'{work}_{max_iters}'))
        return cfg

    Runner.from_cfg(make('ref', 4)).train()
    Runner.from_cfg(make('resumed', 2)).train()
    Runner.from_cfg(make('resumed', 4, resume=True)).train()
    ref = logged_losses(str(tmp_path / 'ref'))
    resumed = logged_losses(str(tmp_path / 'resumed'))
    assert sorted(ref) == sorted(resumed) == [1, 2, 3, 4]
    assert [ref[i] == resumed[i] for i in (1, 2)] == [True, True]
    assert (ref[3] == resumed[3] and ref[4] == resumed[4]) == with_hook
