"""tools/train.py, tools/test.py and tools/dist_train.sh as users run them."""
import os
import os.path as osp
import re
import socket
import subprocess
import sys

import pytest
from mmengine.config import Config
from mmengine.device import get_device

from child_processes import run_command
from dm_plugin.engine.run_logs import run_lineage

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def run(cmd, timeout, **env):
    result = run_command(
        cmd,
        cwd=ROOT,
        env={**os.environ, 'OMP_NUM_THREADS': '1', **env},
        timeout=timeout)
    assert result.returncode == 0, result.stdout[-3000:] + \
        result.stderr[-3000:]
    return result.stdout + result.stderr


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return str(sock.getsockname()[1])


@pytest.fixture
def config_file(runner_cfg, tmp_path):
    cfg = runner_cfg(max_iters=2)
    cfg['custom_imports'] = dict(imports=['dm_plugin'])
    path = str(tmp_path / 'tiny.py')
    Config(cfg).dump(path)
    return path


def test_quickstart_reaches_ninety_percent(tmp_path):
    """The README's main job: Mixup + DM on the embedded digits."""
    out = run([
        sys.executable, 'tools/train.py',
        'configs/quickstart/digits_mixup_dm.py', '--work-dir',
        str(tmp_path / 'qs')
    ], timeout=600)
    final = re.search(r'accuracy/top1: final ([\d.]+)', out)
    assert final, out[-2000:]
    assert float(final.group(1)) >= 90.
    assert osp.isfile(tmp_path / 'qs' / 'epoch_30.pth')
    assert 'eta:' in out  # progress with ETA is visible
    # The start-up block tells the device and process count as they are
    # (mmengine's says "GPU number: 1" and backend nccl on a CPU), and the
    # mmcv-lite warning is gone.
    env = out[out.index('Runtime environment:'):out.index('Config:')]
    assert f'Device: {get_device()}' in env and 'Processes: 1' in env
    assert 'GPU number' not in env and 'dist_cfg' not in env
    assert 'mmcv-lite' not in out


def test_train_then_test_with_resume(config_file, tmp_path):
    work = str(tmp_path / 'run')
    run([sys.executable, 'tools/train.py', config_file, '--work-dir', work],
        timeout=300)
    out = run([
        sys.executable, 'tools/train.py', config_file, '--work-dir', work,
        '--resume', '--cfg-options', 'train_cfg.max_iters=4'
    ], timeout=300)
    assert re.search(r'Loads checkpoint .*iter_2\.pth', out)
    last = open(osp.join(work, 'last_checkpoint')).read()
    assert last.strip().endswith('iter_4.pth')
    # Resuming the finished run trains nothing and says so; its metrics are
    # the run's final validation (after the iteration-4 checkpoint was
    # saved), not the older one the checkpoint's message hub holds.
    out = run([sys.executable, 'tools/train.py', config_file, '--work-dir',
               work, '--resume', '--cfg-options', 'train_cfg.max_iters=4'],
              timeout=300)
    assert f'Already complete: {work} is at iteration 4 of 4' in out
    final_val = [r for _, r in run_lineage(work) if 'iter' not in r][-1]
    printed = float(re.search(r'accuracy/top1: final ([\d.]+)',
                              out).group(1))
    assert printed == pytest.approx(final_val['accuracy/top1'], abs=0.006)
    out = run([
        sys.executable, 'tools/test.py', config_file,
        osp.join(work, 'iter_4.pth'), '--work-dir', work, '--out',
        osp.join(work, 'preds.pkl')
    ], timeout=300)
    assert re.search(r'accuracy/top1: [\d.]+', out)
    assert osp.isfile(osp.join(work, 'preds.pkl'))


def test_missing_resume_checkpoint_is_named(config_file, tmp_path):
    result = subprocess.run(
        [sys.executable, 'tools/train.py', config_file, '--resume',
         str(tmp_path / 'nope.pth')],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert 'nope.pth' in result.stderr


def test_dist_train_two_cpu_processes(config_file, tmp_path):
    """torchrun exits 0 only when every rank does."""
    work = str(tmp_path / 'dist')
    out = run(['bash', 'tools/dist_train.sh', config_file, '2',
               '--work-dir', work, '--cfg-options', 'log_level=INFO'],
              timeout=600, PORT=free_port(), PYTHON=sys.executable)
    assert 'Distributed training: True' in out
    assert "backend='gloo'" in out
    assert osp.isfile(osp.join(work, 'iter_2.pth'))
    assert out.count('Finished:') == 1  # rank 0 prints the summary
