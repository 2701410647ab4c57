"""A save interrupted half-way leaves the previous checkpoint usable."""
import errno
import os.path as osp

import pytest
from mmengine.fileio.backends import LocalBackend
from mmengine.runner import Runner

from dm_plugin.engine.checkpoint import load_checkpoint_file
from dm_plugin.engine.hooks import atomic_checkpoint_hook


class Killed(BaseException):
    """Stands for the process dying (not an Exception, like SIGKILL)."""


@pytest.fixture
def die_while_writing(monkeypatch):
    """Writing a file whose name contains ``iter_2`` stops half-way."""
    put = LocalBackend.put

    def half_put(self, obj, filepath):
        if 'iter_2' in str(filepath):
            with open(filepath, 'wb') as f:
                f.write(obj[:len(obj) // 2])
            raise Killed(filepath)
        return put(self, obj, filepath)

    monkeypatch.setattr(LocalBackend, 'put', half_put)


def checkpoint_cfg(runner_cfg, hook_type, **kwargs):
    cfg = runner_cfg(max_iters=3)
    cfg['default_hooks']['checkpoint'] = dict(
        type=hook_type, interval=1, by_epoch=False, max_keep_ckpts=1,
        **kwargs)
    return cfg


def test_kill_while_saving_keeps_previous_checkpoint(
        runner_cfg, tmp_path, monkeypatch, die_while_writing):
    work = tmp_path / 'work'
    with pytest.raises(Killed):
        Runner.from_cfg(checkpoint_cfg(runner_cfg,
                                       'AtomicCheckpointHook')).train()
    assert (work / 'last_checkpoint').read_text() == str(work / 'iter_1.pth')
    assert load_checkpoint_file(str(work / 'iter_1.pth'))['meta']['iter'] == 1
    assert not (work / 'iter_2.pth').exists()
    assert (work / 'iter_2.pth.partial').exists()

    monkeypatch.undo()  # the next run writes normally
    cfg = checkpoint_cfg(runner_cfg, 'AtomicCheckpointHook')
    cfg['resume'] = True
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 3
    assert sorted(p.name for p in work.glob('*.pth')) == ['iter_3.pth']
    assert (work / 'last_checkpoint').read_text() == str(work / 'iter_3.pth')


def test_stock_hook_loses_the_only_checkpoint(runner_cfg, tmp_path,
                                              die_while_writing):
    """Why the hook exists: mmengine deletes the kept checkpoint first and
    writes in place, so the same kill leaves nothing to resume from."""
    work = tmp_path / 'work'
    with pytest.raises(Killed):
        Runner.from_cfg(checkpoint_cfg(runner_cfg, 'CheckpointHook')).train()
    assert not (work / 'iter_1.pth').exists()
    assert (work / 'last_checkpoint').read_text() == str(work / 'iter_1.pth')
    assert osp.getsize(work / 'iter_2.pth') > 0  # truncated


def test_keeps_max_keep_ckpts_newest(runner_cfg, tmp_path):
    cfg = runner_cfg(max_iters=4)
    cfg['default_hooks']['checkpoint'] = dict(
        type='AtomicCheckpointHook', interval=1, by_epoch=False,
        max_keep_ckpts=2)
    Runner.from_cfg(cfg).train()
    work = tmp_path / 'work'
    assert sorted(p.name for p in work.iterdir()
                  if p.suffix in ('.pth', '.partial')) == [
                      'iter_3.pth', 'iter_4.pth'
                  ]
    assert load_checkpoint_file(str(work / 'iter_4.pth'))['message_hub'][
        'runtime_info']['keep_ckpt_ids'] == [3, 4]


def disk_full() -> OSError:
    """As ``write`` and ``fsync`` raise it: without the file's name."""
    return OSError(errno.ENOSPC, 'No space left on device')


@pytest.mark.parametrize('full_at', ['checkpoint', 'pointer'])
def test_full_disk_removes_the_partial_file(runner_cfg, tmp_path, monkeypatch,
                                            full_at):
    """ENOSPC while writing ``iter_2.pth.partial`` (half of it is on disk)
    or while flushing ``last_checkpoint.partial``: the partial file is
    removed (left behind, it would keep the disk full for the resume) and
    the error names the file that could not be saved."""
    work = tmp_path / 'work'
    put, fsync_path = LocalBackend.put, atomic_checkpoint_hook.fsync_path

    def full_put(self, obj, filepath):
        if 'iter_2' in str(filepath):
            with open(filepath, 'wb') as f:
                f.write(obj[:len(obj) // 2])
            raise disk_full()
        return put(self, obj, filepath)

    def full_fsync(path):
        if 'last_checkpoint' in path and (work / 'iter_2.pth').exists():
            raise disk_full()
        fsync_path(path)

    if full_at == 'checkpoint':
        monkeypatch.setattr(LocalBackend, 'put', full_put)
        lost = work / 'iter_2.pth'
    else:
        monkeypatch.setattr(atomic_checkpoint_hook, 'fsync_path', full_fsync)
        lost = work / 'last_checkpoint'
    cfg = checkpoint_cfg(runner_cfg, 'AtomicCheckpointHook')
    with pytest.raises(OSError, match=rf'No space left on device: cannot '
                       rf'save {lost} \(removed {lost}.partial\)') as info:
        Runner.from_cfg(cfg).train()
    assert info.value.errno == errno.ENOSPC
    assert not list(work.glob('*.partial'))
    # the previous pointer and the checkpoint it names are intact
    assert (work / 'last_checkpoint').read_text() == str(work / 'iter_1.pth')
    assert load_checkpoint_file(str(work / 'iter_1.pth'))['meta']['iter'] == 1

    monkeypatch.undo()  # space was freed
    cfg['resume'] = True
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 3
