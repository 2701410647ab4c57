"""Helpers of the reliability tests: training subprocesses and their logs.

Also imported by the training subprocesses themselves (through
``custom_imports``) for :class:`StallAfterIterHook`.
"""
import glob
import json
import os
import os.path as osp
import socket
import subprocess
import sys
import time

from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
HERE = osp.dirname(osp.abspath(__file__))


@HOOKS.register_module()
class StallAfterIterHook(Hook):
    """Test hook: after iteration ``at`` (1-based) write ``marker`` and
    block, so that a test can kill the process at a known point."""

    priority = 'LOWEST'

    def __init__(self, at: int, marker: str):
        self.at = at
        self.marker = marker

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if runner.iter + 1 == self.at:
            with open(self.marker, 'w') as f:
                f.write(str(self.at))
            while True:
                time.sleep(1)


def train_env(**extra) -> dict:
    """Environment of training subprocesses: one thread (deterministic and
    kind to shared CPUs), this directory importable for the test hooks."""
    path = os.pathsep.join([HERE, ROOT, os.environ.get('PYTHONPATH', '')])
    return {
        **os.environ, 'OMP_NUM_THREADS': '1', 'PYTHONPATH': path,
        'PYTHON': sys.executable, **extra
    }


def dump_config(cfg: dict, path: str) -> str:
    cfg = dict(cfg)
    cfg.setdefault('custom_imports',
                   dict(imports=['dm_plugin', 'reliability_utils']))
    Config(cfg).dump(path)
    return path


def run_train(args, timeout: float, **env) -> subprocess.CompletedProcess:
    """Run ``tools/train.py ARGS`` to its end (a hang fails the test and
    is killed)."""
    # imported here: the training subprocesses import this module without
    # tests/ on their path
    from child_processes import run_command
    return run_command([sys.executable, 'tools/train.py', *args],
                       cwd=ROOT, env=train_env(**env), timeout=timeout)


def output_of(result) -> str:
    return (result.stdout or '')[-4000:] + (result.stderr or '')[-4000:]


def free_port() -> str:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return str(sock.getsockname()[1])


def wait_for(path: str, process: subprocess.Popen, timeout: float) -> None:
    """Wait until ``path`` exists; fail if the process ends or time runs
    out first."""
    deadline = time.monotonic() + timeout
    while not osp.exists(path):
        if process.poll() is not None:
            raise AssertionError(
                f'training ended (rc {process.returncode}) before {path}')
        if time.monotonic() > deadline:
            raise AssertionError(f'no {path} after {timeout} s')
        time.sleep(0.2)


def logged_losses(work_dir: str) -> dict:
    """``{iteration: {'loss': ..., 'loss_mce': ..., ...}}`` from the
    ``scalars.json`` of every run in ``work_dir`` (later runs override)."""
    losses = {}
    for path in sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                          'scalars.json'))):
        with open(path) as f:
            for line in f:
                record = json.loads(line)
                if 'loss' in record:  # 'step': the iteration of the run
                    losses[record['step']] = {
                        k: v
                        for k, v in record.items() if k.startswith('loss')
                    }
    return losses


def exact_resume_cfg(cfg: dict) -> dict:
    """Turn a ``tiny_runner_cfg`` into one that uses every source of
    randomness a real run does: Mixup/CutMix draws (torch), the mixer choice
    (numpy), a random flip in the pipeline (numpy), shuffled data; with
    validation between checkpoints, the reliability hooks, atomic
    checkpoints and per-iteration losses in ``scalars.json``."""
    checkpoint_interval = cfg['default_hooks']['checkpoint']['interval']
    cfg['model']['mixer'] = [
        dict(type='Mixup', alpha=1.0),
        dict(type='CutMix', alpha=1.0)
    ]
    cfg['model']['mixer_probs'] = [0.5, 0.4]
    cfg['train_dataloader']['dataset']['pipeline'] = [
        dict(type='SafeLoadImageFromFile'),
        dict(type='RandomFlip', prob=0.5, direction='horizontal'),
        dict(type='PackInputs')
    ]
    cfg['val_dataloader']['dataset']['pipeline'] = [
        dict(type='SafeLoadImageFromFile'),
        dict(type='PackInputs')
    ]
    cfg['train_cfg']['val_interval'] = checkpoint_interval
    cfg['default_hooks']['checkpoint'] = dict(
        type='AtomicCheckpointHook',
        interval=checkpoint_interval,
        by_epoch=False,
        max_keep_ckpts=2)
    cfg['custom_hooks'] = [
        dict(type='RandomStateHook'),
        dict(type='NonFiniteLossHook'),
        dict(type='NumClassesCheckHook')
    ]
    cfg['log_processor'] = dict(window_size=1)
    cfg['visualizer'] = dict(
        type='Visualizer', vis_backends=[dict(type='LocalVisBackend')])
    cfg['randomness'] = dict(seed=0)
    return cfg
