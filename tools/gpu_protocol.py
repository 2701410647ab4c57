"""The GPU protocol of docs/results.md in one go, within a time budget.

    python tools/gpu_protocol.py --data DIR [--out DIR] [--work-dir DIR]
        [--budget 540] [--start UNIX_TIME] [--epochs N] [--methods ...]
        [--compile] [--no-channels-last] [--smoke]

(``bash tools/gpu_protocol.sh`` installs the carried wheels, unpacks the
data and calls this.) DATA is the CIFAR-10 copy in ImageFolder layout
(``train/<class>/``, ``test/<class>/``). Steps, each timed:

1. decode DATA into the dataset cache (``CachedImageDataset``);
2. probe: every method's run starts at once, as it will train, until each
   has logged a few iterations; their concurrent seconds per iteration and
   start-up time give the number of epochs that fits into what is left of
   ``--budget`` (counted from ``--start``), the same for every method;
3. train: every method at once on the one GPU (ResNet-18 CIFAR, batch 100,
   SGD with a cosine schedule over those epochs, ``--amp`` and channels-last
   on CUDA, seed 0), validating about four times; a run still going when
   the budget ends is stopped and reported with its last validation;
4. report: ``gpu_protocol.md`` and ``gpu_protocol.json`` in ``--out``
   (top-1, top-5, ECE, epochs done, s/iter, images/s per run and in total,
   the phases' times), the driver's log and the tails of the training logs.

Methods: {Mixup, CutMix} x {MCE, DM with the paper's settings
(configs/protocol/_paper_dm.py)}, MCE with DM's Mixup alpha (the control
that separates the loss from the alpha), PuzzleMix, AutoMix and SAMix
(MCE), one config each in configs/protocol (a run whose probe fails is
reported as not run). ``--smoke`` rehearses everything on the CPU: 10 images
per class, batch 20, one epoch.
"""
import argparse
import glob
import json
import math
import os
import os.path as osp
import signal
import statistics
import subprocess
import sys
import time

TOOLS = osp.dirname(osp.abspath(__file__))
ROOT = osp.dirname(TOOLS)
sys.path.insert(0, ROOT)
sys.path.insert(0, TOOLS)

PROTOCOL = osp.join(ROOT, 'configs', 'protocol')
# name: protocol config
METHODS = {
    'mixup_mce': 'r18_mixup_mce.py',
    'mixup_dm': 'r18_mixup_dm.py',
    'mixup_mce_alpha02': 'r18_mixup_mce_alpha02.py',  # DM's alpha, MCE
    'cutmix_mce': 'r18_cutmix_mce.py',
    'cutmix_dm': 'r18_cutmix_dm.py',
    'puzzlemix_mce': 'r18_puzzlemix_mce.py',
    'automix_mce': 'r18_automix_mce.py',
    'samix_mce': 'r18_samix_mce.py',
}
OPENMIXUP_COST = dict(puzzlemix_mce=1.30, automix_mce=2.19, samix_mce=2.15)
BATCH, VAL_BATCH = 100, 500
VALIDATIONS = 4  # about this many per run
# A validation batch of 500 forwards costs about 5/3 of a training step of
# 100 (forward + backward); rounded up.
VAL_STEP_COST = 2.
REPORT_MARGIN_S = 25.  # stopping runs, collecting and writing the report
PROBE_RECORDS = 3  # logged windows per run before the probe ends


class Log:
    """Timestamped lines to stdout and ``gpu_protocol.log``."""

    def __init__(self, path: str, start: float):
        self.path, self.start = path, start

    def __call__(self, message: str) -> None:
        line = f'[{time.time() - self.start:6.1f} s] {message}'
        print(line, flush=True)
        with open(self.path, 'a') as f:
            f.write(line + '\n')


def plan_epochs(available_s: float, iters_per_epoch: int, s_per_iter: dict,
                val_s: float) -> tuple:
    """(epochs, validation interval): the most epochs for which the slowest
    method's training and its validations (every ``ceil(epochs / 4)``
    epochs) take at most ``available_s``; at least 1."""
    epoch_s = iters_per_epoch * max(s_per_iter.values())
    epochs = 1
    while True:
        candidate = epochs + 1
        interval = math.ceil(candidate / VALIDATIONS)
        needed = candidate * epoch_s + math.ceil(
            candidate / interval) * val_s
        if needed > available_s:
            break
        epochs = candidate
    return epochs, math.ceil(epochs / VALIDATIONS)


def write_config(path: str, base: str, overrides: dict) -> str:
    """An mmengine config inheriting ``base`` with ``overrides``."""
    lines = [f'_base_ = [{base!r}]']
    lines += [f'{key} = {value!r}' for key, value in overrides.items()]
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return path


def dataset_cfg(args, split: str) -> dict:
    dataset = dict(type='CachedImageDataset', data_root=args.data,
                   split=split, cache_dir=args.cache_dir)
    if args.smoke:
        dataset = dict(_delete_=True, type='ClassBalancedSubset',
                       per_class=10, seed=0, dataset=dataset)
    return dataset


def run_overrides(args, method: str, epochs: int, val_interval: int,
                  probe: bool) -> dict:
    """What the protocol config of ``method`` is run with here."""
    batch = 20 if args.smoke else BATCH
    val = dict(dataset=dataset_cfg(args, 'test'))
    overrides = dict(
        train_dataloader=dict(batch_size=batch,
                              dataset=dataset_cfg(args, 'train')),
        val_dataloader=val, test_dataloader=val,
        train_cfg=dict(max_epochs=epochs, val_interval=val_interval),
        param_scheduler=dict(T_max=epochs),
        default_hooks=dict(
            logger=dict(interval=1 if args.smoke else 10 if probe else 50),
            checkpoint=None if probe else dict(interval=epochs)),
        env_cfg=dict(cudnn_benchmark=args.cuda),
        model=dict(channels_last=args.channels_last, compile=args.compile),
    )
    return overrides


def launch(args, method: str, phase: str, epochs: int,
           val_interval: int) -> dict:
    """Start ``tools/train.py`` for ``method`` in its own process group."""
    run_dir = osp.join(args.work_dir, phase, method)
    os.makedirs(run_dir, exist_ok=True)
    config = write_config(
        osp.join(run_dir, 'config.py'),
        osp.join(PROTOCOL, METHODS[method]),
        run_overrides(args, method, epochs, val_interval, phase == 'probe'))
    command = [sys.executable, osp.join(TOOLS, 'train.py'), config,
               '--work-dir', run_dir]
    if args.cuda:
        command.append('--amp')
    if phase == 'probe':
        command.append('--no-validate')
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads_per_run))
    log = open(osp.join(run_dir, 'train.log'), 'w')
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                               env=env, cwd=ROOT, start_new_session=True)
    return dict(method=method, run_dir=run_dir, process=process, log=log,
                start=time.time(), end=None)


def stop(run: dict) -> None:
    """SIGTERM the run's process group, SIGKILL what is left after 10 s."""
    process = run['process']
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        if process.poll() is not None:
            break
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(wait)
        except subprocess.TimeoutExpired:
            pass
    run['log'].close()


def train_records(run_dir: str) -> list:
    """Training records (with ``time``) logged so far by the run."""
    records = []
    for path in sorted(glob.glob(osp.join(run_dir, '*', 'vis_data',
                                          'scalars.json'))):
        with open(path) as f:
            for line in f:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:  # a line being written
                    continue
                if 'time' in record and 'iter' in record:
                    records.append(record)
    return records


def log_tail(run_dir: str, lines: int = 30) -> str:
    path = osp.join(run_dir, 'train.log')
    if not osp.isfile(path):
        return ''
    with open(path, errors='replace') as f:
        return ''.join(f.readlines()[-lines:])


def probe(args, methods: list, log: Log) -> tuple:
    """Concurrent seconds per iteration of each method, the start-up time,
    and the methods whose probe failed (name: log tail)."""
    runs = [launch(args, m, 'probe', 1, 1) for m in methods]
    first_record, failed = {}, {}
    deadline = time.time() + args.probe_limit
    while True:
        for run in runs:
            records = train_records(run['run_dir'])
            if records and run['method'] not in first_record:
                first_record[run['method']] = time.time() - run['start']
            if run['process'].poll() not in (None, 0):
                failed[run['method']] = log_tail(run['run_dir'])
        done = [len(train_records(r['run_dir'])) >= PROBE_RECORDS or
                r['process'].poll() is not None for r in runs]
        if all(done) or time.time() > deadline:
            break
        time.sleep(1)
    rates = {}
    for run in runs:
        stop(run)
        times = [r['time'] for r in train_records(run['run_dir'])]
        if run['method'] in failed:
            log(f'probe: {run["method"]} FAILED:\n{failed[run["method"]]}')
        elif not times:
            failed[run['method']] = log_tail(run['run_dir'])
            log(f'probe: {run["method"]} logged no iteration in '
                f'{args.probe_limit:.0f} s')
        else:
            rates[run['method']] = statistics.median(times[1:] or times)
            log(f'probe: {run["method"]} {rates[run["method"]]:.4f} s/iter '
                f'(concurrent), first log after '
                f'{first_record[run["method"]]:.0f} s')
    startup = max(first_record.values(), default=0.)
    return rates, startup, failed


def train_all(args, methods: list, epochs: int, val_interval: int,
              deadline: float, log: Log) -> dict:
    runs = {m: launch(args, m, 'train', epochs, val_interval)
            for m in methods}
    while any(r['process'].poll() is None for r in runs.values()):
        for run in runs.values():
            if run['end'] is None and run['process'].poll() is not None:
                run['end'] = time.time()
                log(f'train: {run["method"]} ended with exit code '
                    f'{run["process"].returncode} after '
                    f'{run["end"] - run["start"]:.0f} s')
        if time.time() > deadline:
            log('train: time is up; stopping the runs still going')
            break
        time.sleep(2)
    for run in runs.values():
        stopped = run['process'].poll() is None
        stop(run)
        run['end'] = run['end'] or time.time()
        run['stopped'] = stopped
        run['returncode'] = run['process'].returncode
    return runs


def collect(args, runs: dict, epochs: int, iters_per_epoch: int) -> dict:
    from compare import collect_run
    batch = 20 if args.smoke else BATCH
    results = {}
    for method, run in runs.items():
        result = collect_run(run['run_dir'])
        iters = result['iters'] or 0
        result.update(
            epochs_planned=epochs,
            epochs_done=round(iters / iters_per_epoch, 2),
            finished=run['returncode'] == 0,
            stopped_at_deadline=run['stopped'],
            returncode=run['returncode'],
            wall_s=round(run['end'] - run['start'], 1),
            images_per_s=batch / result['s_per_iter']
            if result['s_per_iter'] else None,
            images=iters * batch)
        if not result['finished']:
            result['log_tail'] = log_tail(run['run_dir'])
        results[method] = result
    return results


def number(value, digits: int = 2) -> str:
    return '-' if value is None else f'{value:,.{digits}f}'


def markdown(summary: dict) -> str:
    s = summary
    lines = [
        '# GPU protocol: ResNet-18 (CIFAR) on the CIFAR-10 copy', '',
        f'{s["device"]}, torch {s["torch"]}, {s["date"]}. '
        f'{s["train_images"]} training / {s["test_images"]} test images, '
        f'batch {s["batch"]}, SGD lr 0.1 cosine over {s["epochs"]} epochs '
        f'({s["epochs_source"]}), amp {s["amp"]}, channels_last '
        f'{s["channels_last"]}, compile {s["compile"]}, seed 0; '
        f'{len(s["results"])} runs at once sharing the device.', '',
        '| phase | seconds |', '|---|---:|'
    ]
    lines += [f'| {name} | {seconds:.0f} |'
              for name, seconds in s['phases'].items()]
    lines += [
        '', '| method | epochs done | top-1 final (%) | top-1 best (%) | '
        'top-5 final (%) | ECE final (%) | s/iter | images/s | step cost vs '
        'Mixup + MCE (OpenMixup) | status |',
        '|---|---:|---:|---:|---:|---:|---:|---:|---:|---|'
    ]
    base = s['results'].get('mixup_mce', {}).get('s_per_iter')
    for method, r in s['results'].items():
        cost = '-'
        if base and r['s_per_iter']:
            cost = f'{r["s_per_iter"] / base:.2f}x'
            if method in OPENMIXUP_COST:
                cost += f' ({OPENMIXUP_COST[method]:.2f}x)'
        status = 'finished' if r['finished'] else (
            'stopped at the deadline' if r['stopped_at_deadline'] else
            f'failed (exit {r["returncode"]})')
        lines.append(
            f'| {method} | {r["epochs_done"]} / {r["epochs_planned"]} | '
            f'{number(r["top1_final"])} | {number(r["top1_best"])} | '
            f'{number(r["top5_final"])} | {number(r["ece_final"])} | '
            f'{number(r["s_per_iter"], 4)} | {number(r["images_per_s"], 0)} | '
            f'{cost} | {status} |')
    for method, reason in s['not_run'].items():
        lines.append(f'| {method} | - | - | - | - | - | - | - | - | '
                     f'not run: {reason} |')
    lines += [
        '', f'Throughput while training: {s["total_images_per_s"]:,.0f} '
        'images/s over all runs together (images trained / training '
        'phase seconds). Probe (all runs at once, seconds per iteration): ' +
        ', '.join(f'{m} {v:.4f}' for m, v in s['probe_s_per_iter'].items()) +
        '.'
    ]
    return '\n'.join(lines) + '\n'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--data', required=True,
                        help='CIFAR-10 ImageFolder root (train/, test/)')
    parser.add_argument('--out', default=os.environ.get(
        'OUT', 'work_dirs/gpu_protocol/out'), help='report folder ($OUT)')
    parser.add_argument('--work-dir', default='work_dirs/gpu_protocol',
                        help='runs and dataset cache')
    parser.add_argument('--budget', type=float,
                        help='seconds from --start to the report (default '
                        '540, smoke 3600)')
    parser.add_argument('--start', type=float,
                        help='UNIX time the budget counts from (default: '
                        'now)')
    parser.add_argument('--epochs', type=int,
                        help='epochs instead of planning them')
    parser.add_argument('--methods', nargs='+', choices=list(METHODS),
                        default=list(METHODS))
    parser.add_argument('--compile', action='store_true',
                        help='torch.compile the backbones')
    parser.add_argument('--no-channels-last', action='store_true')
    parser.add_argument('--probe-limit', type=float,
                        help='seconds the probe may take (default 90, '
                        'smoke 300)')
    parser.add_argument('--smoke', action='store_true',
                        help='CPU rehearsal: 10 images per class, batch '
                        '20, 1 epoch')
    args = parser.parse_args(argv)
    if args.epochs is not None and args.epochs < 1:
        parser.error('--epochs must be >= 1')
    args.start = args.start or time.time()
    if args.smoke and args.epochs is None:
        args.epochs = 1
    if args.budget is None:
        args.budget = 3600. if args.smoke else 540.
    if args.probe_limit is None:
        args.probe_limit = 300. if args.smoke else 90.
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    os.makedirs(args.work_dir, exist_ok=True)
    log = Log(osp.join(args.out, 'gpu_protocol.log'), args.start)
    phases = {'start-up (wheels, data, imports)': time.time() - args.start}

    import torch
    from dm_plugin.datasets import CachedImageDataset
    args.cuda = torch.cuda.is_available()
    args.channels_last = args.cuda and not args.no_channels_last
    args.cache_dir = osp.join(args.work_dir, 'cache')
    args.data = osp.abspath(args.data)
    not_run = {}
    methods = list(args.methods)
    args.threads_per_run = max(1, (os.cpu_count() or 1) // len(methods))
    device = torch.cuda.get_device_name() if args.cuda else 'CPU'
    log(f'{device}; methods {methods}')

    began = time.time()
    sizes = {}
    for split in ('train', 'test'):
        dataset = CachedImageDataset(args.data, split=split,
                                     cache_dir=args.cache_dir,
                                     decode_threads=os.cpu_count())
        sizes[split] = len(dataset)
    phases['decode into the dataset cache'] = time.time() - began
    log(f'cache: {sizes} images in '
        f'{phases["decode into the dataset cache"]:.0f} s')

    batch = 20 if args.smoke else BATCH
    train_images = 100 if args.smoke else sizes['train']
    test_images = 100 if args.smoke else sizes['test']
    iters_per_epoch = math.ceil(train_images / batch)

    began = time.time()
    rates, startup, failed = probe(args, methods, log)
    phases['probe (all runs at once)'] = time.time() - began
    for method, tail in failed.items():
        not_run[method] = 'its probe failed (see gpu_protocol.json)'
    methods = [m for m in methods if m in rates]
    if not methods:
        raise RuntimeError('every probe failed; see ' + log.path)

    deadline = args.start + args.budget - REPORT_MARGIN_S
    if args.epochs:
        epochs, val_interval = args.epochs, math.ceil(args.epochs /
                                                      VALIDATIONS)
        source = 'given'
    else:
        val_s = math.ceil(test_images / VAL_BATCH) * VAL_STEP_COST * min(
            rates.values())
        available = deadline - time.time() - startup
        epochs, val_interval = plan_epochs(available, iters_per_epoch, rates,
                                           val_s)
        source = (f'planned: {available:.0f} s left after start-up, slowest '
                  f'{max(rates.values()) * iters_per_epoch:.1f} s/epoch')
    log(f'train: {epochs} epochs, validation every {val_interval} '
        f'({source})')

    began = time.time()
    runs = train_all(args, methods, epochs, val_interval, deadline, log)
    phases['training (all runs at once)'] = time.time() - began
    results = collect(args, runs, epochs, iters_per_epoch)
    total_images = sum(r['images'] for r in results.values())
    summary = dict(
        device=device, torch=torch.__version__,
        date=time.strftime('%Y-%m-%d %H:%M'), smoke=args.smoke,
        train_images=train_images, test_images=test_images, batch=batch,
        epochs=epochs, epochs_source=source, validation_interval=val_interval,
        amp=args.cuda, channels_last=args.channels_last,
        compile=args.compile, phases=phases,
        probe_s_per_iter=rates, probe_startup_s=startup,
        probe_failures=failed, not_run=not_run, results=results,
        total_images_per_s=total_images /
        phases['training (all runs at once)'])
    phases['total'] = time.time() - args.start
    with open(osp.join(args.out, 'gpu_protocol.json'), 'w') as f:
        json.dump(summary, f, indent=2)
    with open(osp.join(args.out, 'gpu_protocol.md'), 'w') as f:
        f.write(markdown(summary))
    with open(osp.join(args.out, 'train_logs.txt'), 'w') as f:
        for method, run in runs.items():
            f.write(f'==== {method} ====\n{log_tail(run["run_dir"], 60)}\n')
    log(f'wrote {args.out}/gpu_protocol.md, gpu_protocol.json, '
        f'gpu_protocol.log, train_logs.txt')
    print('\n' + markdown(summary))
    return summary


if __name__ == '__main__':
    main()
