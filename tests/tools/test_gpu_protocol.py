"""tools/gpu_protocol.py: the epoch plan is the largest that fits (brute
force), generated run configs merge into the protocol configs, and the
report shows every run, including the ones not run. (The whole script is
rehearsed with ``bash tools/gpu_protocol.sh --smoke``: docs/results.md.)"""
import importlib.util
import math
import os.path as osp
from types import SimpleNamespace

import pytest
from mmengine.config import Config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
spec = importlib.util.spec_from_file_location(
    'gpu_protocol', osp.join(ROOT, 'tools', 'gpu_protocol.py'))
gpu_protocol = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gpu_protocol)


def needed_s(epochs, epoch_s, val_s):
    interval = math.ceil(epochs / gpu_protocol.VALIDATIONS)
    return epochs * epoch_s + math.ceil(epochs / interval) * val_s


@pytest.mark.parametrize('available', [0., 30., 95.5, 400., 2000.])
def test_plan_is_the_most_epochs_that_fit(available):
    rates = dict(mixup=0.01, puzzlemix=0.035, automix=0.02)
    epochs, interval = gpu_protocol.plan_epochs(available, 500, rates, 4.)
    epoch_s = 500 * 0.035
    fitting = [e for e in range(1, 500) if needed_s(e, epoch_s, 4.) <=
               available]
    assert epochs == max(fitting, default=1)
    assert interval == math.ceil(epochs / gpu_protocol.VALIDATIONS)
    assert math.ceil(epochs / interval) <= gpu_protocol.VALIDATIONS


def test_run_configs_merge_into_the_protocol_configs(tmp_path):
    args = SimpleNamespace(smoke=False, data='/data/cifar10-jpeg',
                           cache_dir='/cache', cuda=True, channels_last=True,
                           compile=False)
    overrides = gpu_protocol.run_overrides(args, 'cutmix_dm', 7, 2, False)
    path = gpu_protocol.write_config(
        str(tmp_path / 'run.py'),
        osp.join(gpu_protocol.PROTOCOL, 'r18_cutmix_dm.py'), overrides)
    cfg = Config.fromfile(path)
    assert cfg.train_cfg.max_epochs == 7 and cfg.param_scheduler.T_max == 7
    assert cfg.train_cfg.val_interval == 2
    assert cfg.default_hooks.checkpoint.interval == 7
    assert cfg.model.mixer.type == 'CutMix' and cfg.model.channels_last
    assert cfg.train_dataloader.dataset.data_root == '/data/cifar10-jpeg'
    assert cfg.val_dataloader.dataset.cache_dir == '/cache'
    assert cfg.test_dataloader.dataset.split == 'test'
    assert cfg.train_dataloader.batch_size == 100
    probe = Config.fromfile(gpu_protocol.write_config(
        str(tmp_path / 'probe.py'),
        osp.join(gpu_protocol.PROTOCOL, 'r18_mixup_mce.py'),
        gpu_protocol.run_overrides(args, 'mixup_mce', 1, 1, True)))
    assert probe.default_hooks.checkpoint is None
    args.smoke = True
    smoke = Config.fromfile(gpu_protocol.write_config(
        str(tmp_path / 'smoke.py'),
        osp.join(gpu_protocol.PROTOCOL, 'r18_mixup_mce.py'),
        gpu_protocol.run_overrides(args, 'mixup_mce', 1, 1, False)))
    assert smoke.train_dataloader.dataset.type == 'ClassBalancedSubset'
    assert smoke.train_dataloader.dataset.dataset.split == 'train'
    assert smoke.train_dataloader.batch_size == 20


def test_report_lists_every_run_and_the_missing_ones():
    run = dict(top1_final=91.234, top1_best=91.5, top5_final=99.7,
               ece_final=2.1, s_per_iter=0.05, images_per_s=2000.,
               epochs_done=12.0, epochs_planned=12, finished=True,
               stopped_at_deadline=False, returncode=0)
    summary = dict(
        device='NVIDIA H200', torch='2.11', date='today', train_images=50000,
        test_images=10000, batch=100, epochs=12, epochs_source='planned',
        amp=True, channels_last=True, compile=False,
        phases={'training (all runs at once)': 300.},
        results=dict(mixup_mce=run,
                     automix_mce=dict(run, s_per_iter=0.11, finished=False,
                                      stopped_at_deadline=True)),
        not_run=dict(samix_mce='its probe failed (see gpu_protocol.json)'),
        total_images_per_s=3000., probe_s_per_iter=dict(mixup_mce=0.05))
    text = gpu_protocol.markdown(summary)
    assert '| mixup_mce | 12.0 / 12 | 91.23 | 91.50 | 99.70 | 2.10 | ' \
        '0.0500 | 2,000 | 1.00x | finished |' in text
    assert '| automix_mce |' in text and '2.20x (2.19x)' in text
    assert 'stopped at the deadline' in text
    assert '| samix_mce | - | - | - | - | - | - | - | - | not run: its probe' \
        in text
    assert '3,000 images/s' in text
