"""Two CPU processes (gloo, torchrun): a bad image on one rank ends both
ranks cleanly, and the run resumes once the file is fixed."""
import os.path as osp

from dm_plugin.engine.checkpoint import load_checkpoint_file

from child_processes import run_command
from conftest import write_image_folder
from reliability_utils import (ROOT, dump_config, free_port, output_of,
                               train_env)


def dist_train(config: str, work_dir: str, *args):
    return run_command(
        ['bash', 'tools/dist_train.sh', config, '2', '--work-dir', work_dir,
         *args],
        cwd=ROOT,
        env=train_env(PORT=free_port()),
        timeout=300)  # a hung rank fails the test here, and is killed


def test_bad_image_on_rank1_stops_all_ranks_then_resume(
        runner_cfg, image_folder, tmp_path):
    """Unshuffled, 2 images per rank per iteration: rank 1 reads dataset
    indices 1,3 | 5,7 | 9,11. Index 9 (class_2/img_1.png) is corrupted, so
    rank 1 fails fetching iteration 3 while rank 0 waits for it in DDP.

    Rank 1 got there after iteration 2's all-reduce, which rank 0 joined only
    after writing checkpoint 1; checkpoint 2 may or may not be complete when
    torchrun stops rank 0, but either way ``last_checkpoint`` names a
    complete one."""
    cfg = runner_cfg(max_iters=3, batch_size=2, checkpoint_interval=1)
    cfg['train_dataloader']['sampler']['shuffle'] = False
    cfg['train_dataloader']['dataset']['pipeline'][0] = dict(
        type='SafeLoadImageFromFile')
    cfg['default_hooks']['checkpoint']['type'] = 'AtomicCheckpointHook'
    cfg['custom_hooks'] = [
        dict(type='RandomStateHook'),
        dict(type='NumClassesCheckHook')
    ]
    config = dump_config(cfg, str(tmp_path / 'dist.py'))
    work_dir = str(tmp_path / 'work')
    bad = osp.join(image_folder, 'class_2', 'img_1.png')
    with open(bad, 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n truncated by a failing disk')

    failed = dist_train(config, work_dir)
    out = failed.stdout + failed.stderr
    assert failed.returncode != 0, out[-4000:]
    assert f'corrupted image file {bad}' in out
    assert 'ChildFailedError' in out  # torchrun stopped the other rank
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        last = f.read()
    assert osp.basename(last) in ('iter_1.pth', 'iter_2.pth')
    assert load_checkpoint_file(last)['meta']['iter'] in (1, 2)
    assert not osp.exists(osp.join(work_dir, 'iter_3.pth'))

    write_image_folder(image_folder)  # restores the file
    resumed = dist_train(config, work_dir, '--resume')
    out = output_of(resumed)
    assert resumed.returncode == 0, out
    assert osp.basename(last) in out
    assert osp.isfile(osp.join(work_dir, 'iter_3.pth'))
