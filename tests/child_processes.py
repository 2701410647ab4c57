"""Child processes of the tests that never outlive them: distributed ranks
spawned here (:func:`run_ranks`) and commands that start their own children
(``tools/dist_train.sh`` -> torchrun -> ranks; :func:`run_command`).

On a loaded machine a rank can be slow to start or wait forever in a
collective for a rank that died; a plain ``join`` / ``subprocess.run``
timeout then leaves processes behind that keep pytest (or the machine)
busy. Here every failure, timeout or interrupt kills the whole set.
"""
import os
import queue as queue_module
import signal
import subprocess
import time
import traceback
from datetime import timedelta

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

# Long enough for a rank to start (spawn imports torch, mmengine, ...) and
# finish on a loaded 2-core machine; a hung rank fails the test after it.
RANK_TIMEOUT = 300


def _rank_main(target, rank, world_size, init_method, timeout, args,
               results):
    """In a spawned child: join the gloo group (with ``timeout`` for the
    rendezvous and every collective), run ``target`` and queue its result,
    or the traceback."""
    torch.set_num_threads(1)
    try:
        dist.init_process_group('gloo', init_method=init_method, rank=rank,
                                world_size=world_size,
                                timeout=timedelta(seconds=timeout))
        try:
            value = target(rank, world_size, *args)
            # No rank tears the group down while another one still waits
            # for the last message of a collective (gloo sends do not wait
            # for the receiver).
            dist.barrier()
            results.put((rank, True, value))
        finally:
            dist.destroy_process_group()
    except BaseException:
        results.put((rank, False, traceback.format_exc()))
        raise


def run_ranks(target, world_size: int, args: tuple, store: str,
              timeout: float = RANK_TIMEOUT) -> list:
    """``[target(rank, world_size, *args) for each rank]``, each rank a
    spawned process in one gloo process group (rendezvous through the file
    ``store``, so no port can be taken by someone else).

    Spawn, not fork: a child forked after torch used its thread pool can
    deadlock in OpenMP. The ranks are daemons (they die with the test
    process); a rank that fails, exits without a result or is not done
    within ``timeout`` seconds fails the call, naming it (with its
    traceback), and every rank still running is killed.
    """
    context = mp.get_context('spawn')
    results = context.Queue()
    processes = [
        context.Process(target=_rank_main, daemon=True,
                        args=(target, rank, world_size, f'file://{store}',
                              timeout, args, results))
        for rank in range(world_size)
    ]
    deadline = time.monotonic() + timeout
    done = {}
    try:
        for process in processes:
            process.start()
        while len(done) < world_size:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f'ranks {sorted(set(range(world_size)) - set(done))} '
                    f'not done within {timeout} s')
            try:
                rank, ok, value = results.get(timeout=1)
            except queue_module.Empty:
                failed = [(rank, p.exitcode) for rank, p in
                          enumerate(processes) if p.exitcode not in (None, 0)
                          and rank not in done]
                if failed:  # died without a traceback (e.g. killed)
                    raise AssertionError(
                        f'rank {failed[0][0]} exited with {failed[0][1]}')
                continue
            if not ok:
                raise AssertionError(f'rank {rank} failed:\n{value}')
            done[rank] = value
        for rank, process in enumerate(processes):
            process.join(max(deadline - time.monotonic(), 1))
            assert process.exitcode == 0, f'rank {rank}: {process.exitcode}'
    finally:
        for process in processes:
            if process.pid is not None:
                if process.is_alive():
                    process.kill()
                process.join(10)
    return [done[rank] for rank in range(world_size)]


def descendants(pid: int) -> list:
    """The processes below ``pid`` (children, their children, ...), from
    ``/proc`` (empty where there is none)."""
    parents = {}
    for entry in os.listdir('/proc') if os.path.isdir('/proc') else []:
        try:
            with open(f'/proc/{entry}/stat') as f:
                # "pid (comm) state ppid ...", comm may hold spaces
                parents[int(entry)] = int(
                    f.read().rsplit(')', 1)[1].split()[1])
        except (ValueError, OSError, IndexError):
            continue
    found, frontier = [], [pid]
    while frontier:
        children = [p for p, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def kill_tree(pid: int) -> None:
    """SIGKILL ``pid``'s session and every process below it; torchrun starts
    each rank in a session of its own, so the session alone is not enough.
    The tree is read before anything is killed (orphans lose their place in
    it)."""
    for each in descendants(pid):
        try:
            os.kill(each, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run_command(args, timeout: float, **kwargs) -> subprocess.CompletedProcess:
    """``subprocess.run(args, capture_output=True, text=True, ...)`` in a
    session of its own; when it times out or the test is interrupted, it
    and every process below it (torchrun's ranks, loader workers) are
    killed, and a timeout fails with the output so far."""
    process = subprocess.Popen(args, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True,
                               start_new_session=True, **kwargs)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except BaseException as error:  # the timeout, KeyboardInterrupt, ...
        kill_tree(process.pid)
        try:
            stdout, stderr = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f'{args}: processes that escaped the kill still hold its '
                'output') from error
        if isinstance(error, subprocess.TimeoutExpired):
            raise AssertionError(
                f'{args} not done within {timeout} s; output so far:\n'
                f'{stdout[-3000:]}\n{stderr[-3000:]}') from None
        raise
    return subprocess.CompletedProcess(args, process.returncode, stdout,
                                       stderr)
