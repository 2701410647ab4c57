"""openmim with dm-plugin: `mim train` / `mim test` find dm-plugin's configs
and tools in an installed (non-editable) package, and mmpretrain's own
helpers run on dm-plugin's configs through `mim run mmpretrain`."""
import os
import os.path as osp
import subprocess
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
MIM = osp.join(osp.dirname(sys.executable), 'mim')
QUICKSTART = osp.join(ROOT, 'configs', 'quickstart', 'digits_mixup_dm.py')


def run(cmd, cwd, **env):
    result = subprocess.run(
        cmd, cwd=cwd, capture_output=True, text=True, timeout=600,
        env={**os.environ, 'OMP_NUM_THREADS': '1', **env})
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    return output


@pytest.fixture(scope='module')
def installed(tmp_path_factory):
    """dm-plugin installed as a wheel installs it (openmim looks for the
    package folder beside its metadata, which an editable install lacks),
    first on PYTHONPATH."""
    target = str(tmp_path_factory.mktemp('site'))
    run([sys.executable, '-m', 'pip', 'install', '--no-deps',
         '--no-build-isolation', '--no-compile', '--quiet', '--target',
         target, ROOT], cwd=ROOT)
    return target


def test_mim_train_and_test_find_the_packaged_config(installed, tmp_path):
    work = str(tmp_path / 'work')
    out = run([MIM, 'train', 'dm_plugin', 'digits_mixup_dm.py', '--work-dir',
               work, '--cfg-options', 'train_cfg.max_epochs=1',
               'train_cfg.val_interval=1'], cwd=str(tmp_path),
              PYTHONPATH=installed)
    packaged = osp.join(installed, 'dm_plugin', '.mim', 'configs',
                        'quickstart', 'digits_mixup_dm.py')
    assert f'will use {packaged} instead' in out
    assert osp.join(installed, 'dm_plugin', '.mim', 'tools',
                    'train.py') in out
    assert f'Finished: {work}' in out
    out = run([MIM, 'test', 'dm_plugin', 'digits_mixup_dm.py', '--checkpoint',
               osp.join(work, 'epoch_1.pth'), '--work-dir', work],
              cwd=str(tmp_path), PYTHONPATH=installed)
    assert 'Test metrics:' in out and 'accuracy/top1: ' in out


def test_mmpretrain_helpers_run_on_dm_plugin_configs(tmp_path):
    """print_config, get_flops, analyze_logs and browse_dataset are
    mmpretrain's, reused (the configs import dm_plugin themselves)."""
    cwd = str(tmp_path)
    out = run([MIM, 'run', 'mmpretrain', 'print_config', QUICKSTART], cwd)
    assert "type='MixupClassifier'" in out

    from mmengine.config import Config
    from mmpretrain.registry import MODELS
    cifar = osp.join(ROOT, 'configs', 'cifar10', 'r18_mixup_dm_ep800.py')
    out = run([MIM, 'run', 'mmpretrain', 'get_flops', cifar, '--shape', '32'],
              cwd)
    model = MODELS.build(Config.fromfile(cifar).model)
    params = sum(p.numel() for p in model.parameters()) / 1e6
    assert f'Params: {params:.3f}M' in out and 'Flops: ' in out

    out = run([MIM, 'run', 'mmpretrain', 'browse_dataset', QUICKSTART, '-o',
               str(tmp_path / 'browse'), '-n', '2', '--not-show', '--mode',
               'original'], cwd)
    assert sorted(os.listdir(tmp_path / 'browse')) == ['0.jpg', '1.jpg']

    log = tmp_path / 'scalars.json'
    log.write_text('\n'.join(
        f'{{"lr": 0.1, "loss": {1 / i}, "time": 0.1, "epoch": 1, "iter": {i},'
        f' "step": {i}}}' for i in range(1, 6)) + '\n')
    out = run([MIM, 'run', 'mmpretrain', 'analyze_logs', 'plot_curve',
               str(log), '--keys', 'loss', '--out', str(tmp_path / 'c.png')],
              cwd)
    assert (tmp_path / 'c.png').stat().st_size > 0
