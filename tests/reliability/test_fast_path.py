"""The fast path (CachedImageDataset + BatchTransformPreprocessor) through
mmengine's Runner: a mid-epoch resume reproduces the batch transforms bit
for bit, and a 2-process gloo run (tools/dist_train.sh) trains with
independent crops per rank and equal generator states."""
import json
import os.path as osp

import pytest
import torch
from mmengine.runner import Runner

from child_processes import run_command
from conftest import (tiny_runner_cfg, unique_experiment_name,
                      write_image_folder)
from reliability_utils import (ROOT, dump_config, free_port, logged_losses,
                               output_of, train_env)

MEAN, STD = [120., 110., 100.], [60., 50., 40.]
TRANSFORMS = [
    dict(type='RandomCrop', crop_size=16, padding=2),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
]


def fast_runner_cfg(tmp_path, work: str, max_iters: int, resume=False,
                    hooks=True) -> dict:
    """12 cached 16x16 images, batch 3 (4 iterations per epoch), random crop
    and flip on the batch, no mixer (the batch transforms are the only
    randomness besides the sampler), checkpoints every 2 iterations."""
    root = tmp_path / 'data'
    if not root.exists():
        write_image_folder(str(root / 'train'))
    cfg = tiny_runner_cfg(str(root), str(tmp_path / work), max_iters=max_iters,
                          batch_size=3, checkpoint_interval=2)
    dataset = dict(type='CachedImageDataset', data_root=str(root),
                   cache_dir=str(tmp_path / 'cache'))
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].update(dataset=dataset,
                        collate_fn=dict(type='cached_image_collate'))
    cfg['model']['data_preprocessor'] = dict(
        type='BatchTransformPreprocessor', mean=MEAN, std=STD,
        transforms=TRANSFORMS)
    cfg['model']['mixer'] = None
    cfg['train_cfg']['val_interval'] = 2
    cfg['custom_hooks'] = [dict(type='RandomStateHook')] if hooks else []
    cfg.update(resume=resume, log_level='ERROR', log_processor=dict(
        window_size=1),
        experiment_name=unique_experiment_name(f'{work}_{max_iters}'),
        visualizer=dict(type='Visualizer',
                        vis_backends=[dict(type='LocalVisBackend')]))
    return cfg


@pytest.mark.parametrize('hooks', [True, False])
def test_resume_mid_epoch_reproduces_the_batch_transforms(tmp_path, hooks):
    """Uninterrupted 4 iterations vs 2 + resume to 4 (iteration 2 is mid
    epoch): the same crops, losses and weights bit for bit with
    RandomStateHook; other crops without it."""
    reference = Runner.from_cfg(fast_runner_cfg(tmp_path, 'ref', 4,
                                                hooks=hooks))
    reference.train()
    Runner.from_cfg(fast_runner_cfg(tmp_path, 'cut', 2, hooks=hooks)).train()
    resumed = Runner.from_cfg(fast_runner_cfg(tmp_path, 'cut', 4, resume=True,
                                              hooks=hooks))
    resumed.train()
    ref_losses = logged_losses(str(tmp_path / 'ref'))
    cut_losses = logged_losses(str(tmp_path / 'cut'))
    assert sorted(ref_losses) == sorted(cut_losses) == [1, 2, 3, 4]
    assert [ref_losses[i] == cut_losses[i] for i in (1, 2)] == [True, True]
    same_after = [ref_losses[i] == cut_losses[i] for i in (3, 4)]
    assert same_after == [hooks, hooks]
    if hooks:
        for ref, cut in zip(reference.model.state_dict().values(),
                            resumed.model.state_dict().values()):
            assert torch.equal(ref, cut)


RECORD_HOOK = '''
import hashlib, json, os.path as osp
import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS


def digest(tensor):
    return hashlib.sha256(tensor.contiguous().numpy().tobytes()).hexdigest()


@HOOKS.register_module()
class RecordDrawsHook(Hook):
    """Each rank preprocesses one fixed batch before training and records
    the result and its generator states before and after training."""

    def before_train(self, runner):
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        images = (torch.arange(6 * 3 * 16 * 16) % 251).to(torch.uint8)
        batch = dict(inputs=images.view(6, 3, 16, 16),
                     gt_label=torch.zeros(6, dtype=torch.long))
        self.record = dict(
            inputs=digest(model.data_preprocessor(batch, True)['inputs']),
            rng_before=digest(torch.get_rng_state()))

    def after_train(self, runner):
        self.record['rng_after'] = digest(torch.get_rng_state())
        path = osp.join(runner.work_dir, f'rank{get_rank()}.json')
        with open(path, 'w') as f:
            json.dump(self.record, f)
'''


def test_two_process_gloo_run_draws_per_rank(tmp_path):
    """tools/dist_train.sh with 2 CPU processes (gloo): the run trains and
    checkpoints; the ranks crop one fixed batch differently while their
    generators stay equal (so RandomStateHook's rank-0 state resumes every
    rank)."""
    (tmp_path / 'fast_path_hooks.py').write_text(RECORD_HOOK)
    cfg = fast_runner_cfg(tmp_path, 'dist', 3)
    cfg['model']['mixer'] = dict(type='Mixup', alpha=1.0)
    cfg['train_dataloader']['batch_size'] = 2
    cfg['custom_hooks'].append(dict(type='RecordDrawsHook'))
    cfg['custom_imports'] = dict(imports=['dm_plugin', 'fast_path_hooks'])
    config = dump_config(cfg, str(tmp_path / 'dist.py'))
    work_dir = tmp_path / 'dist'
    env = train_env(PORT=free_port())
    env['PYTHONPATH'] = f'{tmp_path}{osp.pathsep}{env["PYTHONPATH"]}'
    result = run_command(
        ['bash', 'tools/dist_train.sh', config, '2', '--work-dir',
         str(work_dir)], cwd=ROOT, env=env, timeout=300)
    assert result.returncode == 0, output_of(result)
    assert (work_dir / 'iter_3.pth').is_file()
    ranks = [json.loads((work_dir / f'rank{r}.json').read_text())
             for r in (0, 1)]
    assert ranks[0]['inputs'] != ranks[1]['inputs']
    assert ranks[0]['rng_before'] == ranks[1]['rng_before']
    assert ranks[0]['rng_after'] == ranks[1]['rng_after']
