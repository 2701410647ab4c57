"""tests/child_processes.py: a failing rank is named and the ranks still
running are killed; a command that times out is killed with every process
below it, those in sessions of their own (as torchrun starts ranks)
included."""
import os
import sys
import time

import pytest

from child_processes import run_command, run_ranks


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its reaper counts as dead)."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except FileNotFoundError:
        return False


def gone(pids, within: float = 10.) -> bool:
    deadline = time.monotonic() + within
    while any(alive(pid) for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def hang_or_fail(rank, world_size, pid_file):
    """Rank 0 hangs (as one waiting for a dead peer would), rank 1 fails
    once rank 0 has written its pid."""
    if rank == 1:
        while not os.path.exists(pid_file):
            time.sleep(0.05)
        raise ValueError('rank one fails')
    with open(f'{pid_file}.tmp', 'w') as f:
        f.write(str(os.getpid()))
    os.rename(f'{pid_file}.tmp', pid_file)
    time.sleep(3600)


needs_proc = pytest.mark.skipif(not os.path.isdir('/proc'),
                                reason='reads processes from /proc')


@needs_proc
def test_failing_rank_is_named_and_hanging_rank_killed(tmp_path):
    pid_file = tmp_path / 'rank0.pid'
    start = time.monotonic()
    with pytest.raises(AssertionError,
                       match=r"rank 1 failed:(.|\n)*rank one fails"):
        run_ranks(hang_or_fail, 2, (str(pid_file), ),
                  store=str(tmp_path / 'store'))
    assert time.monotonic() - start < 200  # not the 300 s timeout
    assert pid_file.exists() and gone([int(pid_file.read_text())])


@needs_proc
def test_timed_out_command_is_killed_with_its_tree(tmp_path):
    pids = tmp_path / 'pids'
    script = (f'sleep 300 & echo $! > {pids}; '
              f'{sys.executable} -c "import os, time; os.setsid(); '
              f'time.sleep(300)" & echo $! >> {pids}; wait')
    with pytest.raises(AssertionError, match='not done within 3 s'):
        run_command(['bash', '-c', script], timeout=3)
    children = [int(line) for line in pids.read_text().split()]
    assert len(children) == 2 and gone(children)
