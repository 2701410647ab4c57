"""Train a grid of methods x seeds and compare them in a table and a chart.

    python tools/compare.py GRID.yaml [--dry-run | --report] [--jobs N]

GRID.yaml (relative paths are relative to the current directory)::

    work_root: work_dirs/compare_digits
    seeds: [0, 1, 2]
    launcher: none          # or pytorch: tools/dist_train.sh with nproc
    nproc: 2                # processes per run, only with launcher pytorch
    train_args: [--amp]     # optional, passed to tools/train.py
    methods:
      - name: mixup_mce
        config: configs/quickstart/digits_mixup_dm.py
        cfg_options: {model.head.loss.eta: 0.0}
      - name: mixup_dm
        config: configs/quickstart/digits_mixup_dm.py
      - name: costly_baseline
        config: configs/quickstart/digits_mixup_dm.py
        seeds: [0]          # optional: this method's seeds instead
    comparisons:            # optional: paired differences, same seeds
      - name: DM loss
        baseline: mixup_mce  # or a list, paired element-wise with method's
        method: mixup_dm

Runs go seed by seed (every method's first seed, then the next), so an
interrupted grid leaves whole seeds behind. Each run trains in
``work_root/<name>/seed_<seed>`` with ``tools/train.py --cfg-options
randomness.seed=<seed> ...``; its output goes to ``compare_train.log``
there. A run is finished once ``compare_result.json`` exists (written only
after training succeeded): finished runs are skipped, runs with a checkpoint
but no marker are resumed (``--resume``), others start afresh. Validation
metrics are read from mmengine's ``vis_data/scalars.json`` of every attempt
(keep ``LocalVisBackend`` in ``vis_backends``): top-1 (``accuracy/top1``),
top-5 (``accuracy/top5``) and ECE (``*/ece``, see the ``ECE`` metric), final
(last validation) and best. Writes ``work_root/results.md`` (mean ± sample
std over seeds), ``results.png`` (every seed as a dot, mean ± std; a
metric equal in every run is named under it, not drawn) and
``results.json`` (every run). Each comparison adds a row to ``results.md``:
the method - baseline differences of top-1 and ECE for every seed both
finished, their mean ± std and a paired t-test's p. ``--report`` writes
them from the finished runs without training anything.

SIGINT (Ctrl-C) or SIGTERM stops the grid: the running trainings get
SIGTERM, their attempts are logged with their time (counted in the run's
``wall_s`` once it finishes), queued runs do not start, and the same command
later resumes every unfinished run from its last checkpoint.
"""
import argparse
import json
import os
import os.path as osp
import re
import shlex
import signal
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import yaml
from mmengine.config import DictAction

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from dm_plugin.engine.run_logs import (is_train_record,  # noqa: E402
                                       run_lineage, validation_summary)

TOOLS = osp.dirname(osp.abspath(__file__))
MARKER = 'compare_result.json'
ATTEMPTS = 'compare_attempts.json'
TRAIN_LOG = 'compare_train.log'
_PRINT_LOCK = threading.Lock()
GRID_KEYS = ('work_root', 'seeds', 'methods', 'launcher', 'nproc',
             'train_args', 'comparisons')
METHOD_KEYS = ('name', 'config', 'cfg_options', 'seeds')
COMPARISON_KEYS = ('name', 'baseline', 'method')
RESERVED_TRAIN_ARGS = ('--work-dir', '--resume', '--launcher',
                       '--cfg-options')
# (result key, table header, chart title); values in percent.
COLUMNS = (('top1_final', 'Top-1 final (%)', 'Top-1 (final)'),
           ('top1_best', 'Top-1 best (%)', None),
           ('top5_final', 'Top-5 final (%)', 'Top-5 (final)'),
           ('ece_final', 'ECE final (%)', 'ECE (final, lower is better)'))
# Metrics whose paired differences the comparisons table shows.
PAIRED = (('top1_final', 'Top-1 final'), ('ece_final', 'ECE final'))


@dataclass
class Method:
    name: str
    config: str
    cfg_options: Dict[str, object] = field(default_factory=dict)
    seeds: Optional[List[int]] = None  # None: the grid's seeds


@dataclass
class Comparison:
    name: str
    pairs: List[Tuple[str, str]]  # (baseline, method) names, paired by seed


@dataclass
class Grid:
    work_root: str
    seeds: List[int]
    methods: List[Method]
    launcher: str = 'none'
    nproc: int = 1
    train_args: List[str] = field(default_factory=list)
    comparisons: List[Comparison] = field(default_factory=list)

    def run_dir(self, method: Method, seed: int) -> str:
        return osp.join(self.work_root, method.name, f'seed_{seed}')

    def seeds_of(self, method: Method) -> List[int]:
        return self.seeds if method.seeds is None else method.seeds

    def runs(self) -> List[Tuple[Method, int]]:
        """Every (method, seed), seed by seed in the order seeds first
        appear, methods in grid order within a seed."""
        order = dict.fromkeys(self.seeds + [
            seed for method in self.methods for seed in self.seeds_of(method)
        ])
        return [(method, seed) for seed in order for method in self.methods
                if seed in self.seeds_of(method)]


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def option_text(value) -> str:
    """``value`` spelled the way ``--cfg-options`` parses it back."""
    if isinstance(value, (bool, type(None))):
        return str(value)
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        inner = ','.join(option_text(item) for item in value)
        return f'[{inner}]' if isinstance(value, list) else f'({inner})'
    raise TypeError(f'cannot pass a {type(value).__name__} through '
                    '--cfg-options')


def cfg_option(where: str, key, value) -> str:
    """``'key=value'`` for ``--cfg-options``; raises unless it round-trips."""
    if not isinstance(key, str) or not key or '=' in key or ' ' in key:
        raise ValueError(f'{where}: bad cfg_options key {key!r}')
    try:
        text = option_text(value)
        parsed = DictAction._parse_iterable(text)
    except (TypeError, AssertionError) as error:
        parsed, text = error, None
    if text is None or parsed != value or type(parsed) is not type(value):
        raise ValueError(
            f'{where}: cfg_options {key}={value!r} cannot be passed through '
            '--cfg-options unchanged (dicts, strings with commas, spaces or '
            'brackets, ...); set it in a config that inherits the method\'s')
    return f'{key}={text}'


def load_grid(path: str) -> Grid:
    """Read and check a grid file; errors name the file and the entry."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'grid file not found: {path}')
    with open(path) as f:
        try:
            spec = yaml.safe_load(f)
        except yaml.YAMLError as error:
            raise ValueError(f'{path}: not valid YAML: {error}') from None
    if not isinstance(spec, dict):
        raise ValueError(f'{path}: a grid file is a mapping with keys '
                         f'{GRID_KEYS}')
    unknown = sorted(set(spec) - set(GRID_KEYS))
    if unknown:
        raise KeyError(f'{path}: unknown keys {unknown}; allowed: '
                       f'{GRID_KEYS}')
    for key in ('work_root', 'seeds', 'methods'):
        if key not in spec:
            raise KeyError(f'{path}: missing key {key!r}')
    if not isinstance(spec['work_root'], str) or not spec['work_root']:
        raise ValueError(f'{path}: work_root must be a directory path')
    seeds = check_seeds(path, spec['seeds'])
    launcher = spec.get('launcher', 'none')
    if launcher not in ('none', 'pytorch'):
        raise ValueError(f"{path}: launcher must be 'none' or 'pytorch', "
                         f'got {launcher!r}')
    nproc = spec.get('nproc', 1)
    if 'nproc' in spec and launcher != 'pytorch':
        raise ValueError(f'{path}: nproc needs launcher: pytorch')
    if not is_int(nproc) or nproc < 1:
        raise ValueError(f'{path}: nproc must be an integer >= 1, got '
                         f'{nproc!r}')
    train_args = spec.get('train_args') or []
    if not isinstance(train_args, list) or not all(
            isinstance(arg, str) for arg in train_args):
        raise ValueError(f'{path}: train_args must be a list of strings')
    reserved = [arg for arg in train_args
                if arg.split('=')[0] in RESERVED_TRAIN_ARGS]
    if reserved:
        raise ValueError(f'{path}: train_args may not contain {reserved}: '
                         'compare.py sets the work dir, resume and launcher; '
                         'use cfg_options for config overrides')
    methods = spec['methods']
    if not isinstance(methods, list) or not methods:
        raise ValueError(f'{path}: methods must be a non-empty list')
    methods = [load_method(path, i, entry) for i, entry in enumerate(methods)]
    comparisons = spec.get('comparisons') or []
    if not isinstance(comparisons, list):
        raise ValueError(f'{path}: comparisons must be a list')
    names = [method.name for method in methods]
    return Grid(spec['work_root'], seeds, methods, launcher, nproc,
                train_args, [load_comparison(path, i, entry, names)
                             for i, entry in enumerate(comparisons)])


def check_seeds(where: str, seeds) -> List[int]:
    if not isinstance(seeds, list) or not seeds or not all(
            is_int(seed) and 0 <= seed < 2**32 for seed in seeds):
        raise ValueError(f'{where}: seeds must be a non-empty list of '
                         f'integers in [0, 2**32), got {seeds!r}')
    if len(set(seeds)) != len(seeds):
        raise ValueError(f'{where}: seeds repeat: {seeds}')
    return seeds


def load_method(path: str, index: int, entry) -> Method:
    where = f'{path}: methods[{index}]'
    if not isinstance(entry, dict):
        raise ValueError(f'{where} must be a mapping with keys {METHOD_KEYS}')
    unknown = sorted(set(entry) - set(METHOD_KEYS))
    if unknown:
        raise KeyError(f'{where}: unknown keys {unknown}; allowed: '
                       f'{METHOD_KEYS}')
    for key in ('name', 'config'):
        if key not in entry:
            raise KeyError(f'{where}: missing key {key!r}')
    name = entry['name']
    if not isinstance(name, str) or not re.fullmatch(r'[\w.-]+', name):
        raise ValueError(f'{where}: name must be letters, digits, _ . - '
                         f'(it names a directory), got {name!r}')
    config = entry['config']
    if not isinstance(config, str) or not osp.isfile(config):
        raise FileNotFoundError(f'{where} ({name}): config not found: '
                                f'{config!r} (from {os.getcwd()})')
    options = entry.get('cfg_options') or {}
    if not isinstance(options, dict):
        raise ValueError(f'{where} ({name}): cfg_options must be a mapping '
                         'of dotted keys to values')
    if 'randomness.seed' in options:
        raise ValueError(f'{where} ({name}): randomness.seed is set per run '
                         'from seeds; remove it from cfg_options')
    for key, value in options.items():
        cfg_option(f'{where} ({name})', key, value)
    seeds = check_seeds(f'{where} ({name})', entry['seeds']) \
        if 'seeds' in entry else None
    return Method(name, config, options, seeds)


def load_comparison(path: str, index: int, entry,
                    names: List[str]) -> Comparison:
    """``baseline`` and ``method`` are one method name each, or equal-length
    lists of names paired element by element (one row pooling the pairs)."""
    where = f'{path}: comparisons[{index}]'
    if not isinstance(entry, dict):
        raise ValueError(f'{where} must be a mapping with keys '
                         f'{COMPARISON_KEYS}')
    unknown = sorted(set(entry) - set(COMPARISON_KEYS))
    missing = [key for key in COMPARISON_KEYS if key not in entry]
    if unknown or missing:
        raise KeyError(f'{where}: unknown keys {unknown}, missing keys '
                       f'{missing}; keys: {COMPARISON_KEYS}')
    if not isinstance(entry['name'], str) or not entry['name']:
        raise ValueError(f'{where}: name must be a non-empty string')
    sides = [[side] if isinstance(side, str) else side
             for side in (entry['baseline'], entry['method'])]
    if not all(isinstance(side, list) and side and all(
            isinstance(name, str) for name in side) for side in sides) or \
            len(sides[0]) != len(sides[1]):
        raise ValueError(f'{where}: baseline and method must be method '
                         'names, or lists of names of the same length')
    unknown = [name for side in sides for name in side if name not in names]
    if unknown:
        raise ValueError(f'{where}: not methods of the grid: {unknown}')
    pairs = list(zip(*sides))
    if any(baseline == method for baseline, method in pairs):
        raise ValueError(f'{where}: a method is paired with itself')
    if len(set(pairs)) < len(pairs):
        raise ValueError(f'{where}: a pair repeats (it would count twice)')
    return Comparison(entry['name'], pairs)


def check_unique_names(grid: Grid) -> None:
    names = [method.name for method in grid.methods]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f'method names repeat: {repeated}')


def run_state(run_dir: str) -> str:
    """``'finished'``, ``'resume'`` (a checkpoint, no marker) or ``'new'``."""
    if osp.isfile(osp.join(run_dir, MARKER)):
        return 'finished'
    if osp.isfile(osp.join(run_dir, 'last_checkpoint')):
        return 'resume'
    return 'new'


def train_command(grid: Grid, method: Method, seed: int,
                  resume: bool) -> List[str]:
    if grid.launcher == 'pytorch':
        launch = ['bash', osp.join(TOOLS, 'dist_train.sh'), method.config,
                  str(grid.nproc)]
    else:
        launch = [sys.executable, osp.join(TOOLS, 'train.py'), method.config]
    options = [f'randomness.seed={seed}'] + [
        cfg_option(method.name, key, value)
        for key, value in method.cfg_options.items()
    ]
    return launch + ['--work-dir', grid.run_dir(method, seed)] + \
        grid.train_args + (['--resume'] if resume else []) + \
        ['--cfg-options'] + options


def read_json(path: str, default):
    if not osp.isfile(path):
        return default
    with open(path) as f:
        return json.load(f)


def write_json(path: str, data) -> None:
    with open(path + '.tmp', 'w') as f:
        json.dump(data, f, indent=2)
    os.replace(path + '.tmp', path)


class GridStop:
    """Signal handler that stops a grid: the trainings it started get
    SIGTERM and no new one starts."""

    def __init__(self):
        self.signum = None
        self._lock = threading.Lock()
        self._processes = set()

    def __call__(self, signum, frame=None) -> None:
        with self._lock:
            self.signum = signum
            for process in self._processes:
                process.terminate()

    def call(self, command: List[str], **popen_kwargs) -> Optional[int]:
        """``subprocess.call`` that the stop terminates; ``None`` (nothing
        run) once the grid is stopping."""
        with self._lock:
            if self.signum is not None:
                return None
            process = subprocess.Popen(command, **popen_kwargs)
            self._processes.add(process)
        try:
            return process.wait()
        finally:
            with self._lock:
                self._processes.discard(process)


def train(grid: Grid, method: Method, seed: int, resume: bool,
          stop: GridStop) -> Optional[int]:
    """Run one training attempt; logs it in ``compare_attempts.json`` and
    writes the marker after success, with the wall time of the attempts
    since the last fresh start. Returns the exit code, ``None`` when the grid
    stopped before it started."""
    run_dir = grid.run_dir(method, seed)
    os.makedirs(run_dir, exist_ok=True)
    command = train_command(grid, method, seed, resume)
    env = dict(os.environ)
    # dist_train.sh calls `python`: make it this interpreter.
    env['PATH'] = osp.dirname(sys.executable) + os.pathsep + env.get(
        'PATH', '')
    attempts_file = osp.join(run_dir, ATTEMPTS)
    start = time.time()
    with open(osp.join(run_dir, TRAIN_LOG), 'a') as log:
        log.write(f'\n$ {shlex.join(command)}\n')
        log.flush()
        returncode = stop.call(
            command, stdout=log, stderr=subprocess.STDOUT, env=env)
    if returncode is None:
        return None
    attempts = read_json(attempts_file, [])
    attempts.append(dict(command=command, returncode=returncode,
                         elapsed_s=round(time.time() - start, 3)))
    write_json(attempts_file, attempts)
    if returncode == 0:
        # Time since the last fresh start: attempts before it were lost.
        fresh = max((i for i, attempt in enumerate(attempts)
                     if '--resume' not in attempt['command']), default=0)
        write_json(osp.join(run_dir, MARKER), dict(
            method=method.name, seed=seed, config=method.config,
            wall_s=round(sum(a['elapsed_s'] for a in attempts[fresh:]), 3),
            attempts=len(attempts) - fresh))
    return returncode


def metric_key(records: List[dict], name: str) -> Optional[str]:
    """``accuracy/<name>`` if logged, else the first ``*/<name>`` key."""
    keys = sorted({key for record in records for key in record
                   if key.endswith('/' + name)})
    preferred = f'accuracy/{name}'
    return preferred if preferred in keys else (keys[0] if keys else None)


def collect_run(run_dir: str) -> dict:
    """Metrics (percent), seconds/iteration and wall time of a run."""
    points = run_lineage(run_dir)
    records = [record for _, record in points]
    val_records = [r for r in records if not is_train_record(r)]
    result = dict(val_evaluations=len(val_records))
    summary = validation_summary(points)
    for name in ('top1', 'top5', 'ece'):
        key = metric_key(val_records, name)
        values = summary.get(key, {})
        result[f'{name}_final'] = values.get('final')
        result[f'{name}_best'] = values.get('best')
    train_records = [r for r in records
                     if is_train_record(r) and 'time' in r]
    result['s_per_iter'] = statistics.fmean(
        r['time'] for r in train_records) if train_records else None
    result['iters'] = max((r['step'] for r in train_records), default=None)
    result['wall_s'] = read_json(osp.join(run_dir, MARKER), {}).get('wall_s')
    return result


def mean_std(values: List[float], digits: int = 2,
             signed: bool = False) -> str:
    """``'mean ± sample std'`` (just the mean for one value); ``'-'`` for
    none. ``signed``: the mean always with its sign."""
    values = [v for v in values if v is not None]
    if not values:
        return '-'
    text = f'{statistics.fmean(values):{"+" if signed else ""}.{digits}f}'
    if len(values) > 1:
        text += f' ± {statistics.stdev(values):.{digits}f}'
    return text


def markdown_table(grid: Grid, results: Dict[str, List[dict]]) -> str:
    headers = ['Method', 'Seeds'] + [c[1] for c in COLUMNS] + \
        ['Time/run (s)', 's/iter']
    lines = ['| ' + ' | '.join(headers) + ' |',
             '|' + '|'.join(['---'] + ['---:'] * (len(headers) - 1)) + '|']
    for method in grid.methods:
        runs, planned = results[method.name], len(grid.seeds_of(method))
        seeds = str(len(runs)) if len(runs) == planned else \
            f'{len(runs)}/{planned}'
        cells = [method.name, seeds] + [
            mean_std([run[key] for run in runs]) for key, _, _ in COLUMNS
        ] + [mean_std([run['wall_s'] for run in runs], 1),
             mean_std([run['s_per_iter'] for run in runs], 4)]
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'


def paired_differences(results: Dict[str, List[dict]],
                       comparison: Comparison, key: str) -> List[float]:
    """``method - baseline`` of ``key`` for every seed both finished and
    logged it, pair after pair."""
    differences = []
    for baseline, method in comparison.pairs:
        base = {run['seed']: run[key] for run in results[baseline]}
        differences += [
            run[key] - base[run['seed']] for run in results[method]
            if run[key] is not None and base.get(run['seed']) is not None
        ]
    return differences


def paired_p_value(differences: List[float]) -> Optional[float]:
    """Two-sided paired t-test of a zero mean difference; ``None`` with
    fewer than two pairs or no spread (the test is undefined)."""
    if len(differences) < 2 or statistics.pstdev(differences) == 0:
        return None
    from scipy.stats import ttest_1samp
    return float(ttest_1samp(differences, 0.).pvalue)


def format_p(p_value: Optional[float]) -> str:
    """Three decimals; ``<0.001`` where they would read 0.000, ``-`` for no
    test."""
    if p_value is None:
        return '-'
    return '<0.001' if p_value < 0.0005 else f'{p_value:.3f}'


def comparisons_table(grid: Grid, results: Dict[str, List[dict]]) -> str:
    """Paired differences of each comparison, ``''`` without any."""
    if not grid.comparisons:
        return ''
    headers = ['Comparison (method - baseline)', 'Pairs']
    for _, title in PAIRED:
        headers += [f'{title}: per pair', 'mean ± std', 'p']
    lines = ['| ' + ' | '.join(headers) + ' |',
             '|' + '|'.join(['---'] * 2 + ['---:'] * (len(headers) - 2)) + '|']
    for comparison in grid.comparisons:
        cells = [comparison.name, '; '.join(
            f'{method} - {baseline}' for baseline, method in comparison.pairs)]
        for key, _ in PAIRED:
            differences = paired_differences(results, comparison, key)
            cells += [', '.join(f'{d:+.2f}' for d in differences) or '-',
                      mean_std(differences, signed=True),
                      format_p(paired_p_value(differences))]
        lines.append('| ' + ' | '.join(cells) + ' |')
    return ('\nPaired differences in points, method - baseline on the same '
            'seed (same initialisation and data order), over the seeds both '
            'finished; p: two-sided paired t-test (`-` below two pairs or '
            'when every difference is the same).\n\n'
            + '\n'.join(lines) + '\n')


def seed_chart(grid: Grid, results: Dict[str, List[dict]],
               out_file: str) -> Tuple[List[str], List[str]]:
    """One panel per charted metric that any run logged: every seed's value
    as a dot and the mean ± std as a short line with whiskers, on an axis
    zoomed to the values (differences of a point would vanish on an axis
    from 0). A metric with the same value in every run (top-5 at 100 on an
    easy set) is named under the chart instead of drawn. Returns the drawn
    and the flat panels' titles."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    names = [method.name for method in grid.methods]
    panels, flat = [], []
    for key, _, title in COLUMNS:
        values = [[run[key] for run in results[name]
                   if run[key] is not None] for name in names]
        logged = {value for seed_values in values for value in seed_values}
        if not title or not logged:
            continue
        if len(logged) == 1 and sum(map(len, values)) > 1:
            flat.append(f'{title}: {logged.pop():.2f} in every run')
        else:
            panels.append((title, values))
    if not panels:
        panels = [('no varying validation metric', [[] for _ in names])]
    figure, axes = plt.subplots(
        1, len(panels), figsize=(1.5 + 1.1 * len(names) * len(panels),
                                 4 + 0.25 * bool(flat)),
        squeeze=False)
    for axis, (title, values) in zip(axes[0], panels):
        for i, seed_values in enumerate(values):
            if not seed_values:
                continue
            std = statistics.stdev(seed_values) if len(seed_values) > 1 else 0.
            axis.errorbar(i, statistics.fmean(seed_values), yerr=std,
                          fmt='_', markersize=24, capsize=6, color=f'C{i}')
            axis.plot([i] * len(seed_values), seed_values, 'o', alpha=0.6,
                      color=f'C{i}')
        axis.set_xticks(range(len(names)), [
            f'{name}\n{mean_std(v)}' for name, v in zip(names, values)
        ], fontsize='small')
        axis.set_xlim(-0.6, len(names) - 0.4)
        axis.grid(axis='y', alpha=0.3)
        axis.set_title(title, fontsize='medium')
        axis.set_ylabel('%')
    figure.suptitle(f'{osp.basename(osp.normpath(grid.work_root))}: each '
                    'seed (dot), mean ± std (line and whiskers)',
                    fontsize='medium')
    if flat:
        figure.text(0.5, 0.01, 'Not drawn: ' + '; '.join(flat), ha='center',
                    fontsize='small')
    figure.tight_layout(rect=(0, 0.05 if flat else 0, 1, 1))
    figure.savefig(out_file, dpi=120)
    plt.close(figure)
    return [title for title, _ in panels], flat


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Train methods x seeds and compare them')
    parser.add_argument('grid', help='grid YAML file')
    parser.add_argument(
        '--dry-run',
        action='store_true',
        help='print each run\'s state and command, train nothing')
    parser.add_argument(
        '--report',
        action='store_true',
        help='write the table, chart and json of the finished runs, train '
        'nothing')
    parser.add_argument(
        '--jobs',
        type=int,
        default=1,
        help='runs trained at the same time (e.g. small models sharing one '
        'GPU); default 1, one after another')
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error('--jobs must be >= 1')
    if args.dry_run and args.report:
        parser.error('--dry-run and --report exclude each other')
    return args


def say(line: str) -> None:
    """Print one whole line: ``print`` writes the text and its newline
    separately, so lines of parallel runs could run together."""
    with _PRINT_LOCK:
        sys.stdout.write(line + '\n')
        sys.stdout.flush()


def run_job(grid: Grid, stop: GridStop, prefix: str, method: Method,
            seed: int, resume: bool) -> Optional[str]:
    """Train one run with progress lines; returns its dir if it failed or
    was stopped."""
    run_dir = grid.run_dir(method, seed)
    if stop.signum is not None:
        return run_dir
    say(f'{prefix}: {"resuming" if resume else "training"} in {run_dir} '
        f'(log: {osp.join(run_dir, TRAIN_LOG)})')
    start = time.time()
    returncode = train(grid, method, seed, resume, stop)
    if returncode == 0:
        say(f'{prefix}: done in {time.time() - start:.1f} s')
        return None
    if stop.signum is not None:
        if returncode is not None:
            say(f'{prefix}: stopped after {time.time() - start:.1f} s')
        return run_dir
    say(f'{prefix}: FAILED with exit code {returncode}; see '
        f'{osp.join(run_dir, TRAIN_LOG)}')
    return run_dir


def main(argv=None) -> int:
    """Returns 1 when a run failed, 128 + the signal's number when a signal
    stopped the grid, else 0."""
    args = parse_args(argv)
    grid = load_grid(args.grid)
    check_unique_names(grid)
    runs = grid.runs()
    pending = []
    for index, (method, seed) in enumerate(runs, start=1):
        run_dir = grid.run_dir(method, seed)
        state = run_state(run_dir)
        prefix = f'[{index}/{len(runs)}] {method.name} seed {seed}'
        if state == 'finished':
            print(f'{prefix}: finished, skipped ({run_dir})', flush=True)
            continue
        if args.report:
            print(f'{prefix}: not finished, left out', flush=True)
            continue
        if args.dry_run:
            command = train_command(grid, method, seed, state == 'resume')
            print(f'{prefix}: would {"resume" if state == "resume" else "run"}'
                  f'\n    {shlex.join(command)}', flush=True)
            continue
        pending.append((prefix, method, seed, state == 'resume'))
    stop = GridStop()
    handlers = {signum: signal.signal(signum, stop)
                for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            failed = [run_dir for run_dir in pool.map(
                lambda job: run_job(grid, stop, *job), pending) if run_dir]
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    if stop.signum is not None:
        print(f'stopped by {signal.Signals(stop.signum).name}: '
              f'{len(failed)} of {len(runs)} runs unfinished; the same '
              'command resumes them', flush=True)
        return 128 + stop.signum
    if args.dry_run:
        return 0
    results = {
        method.name: [
            dict(seed=seed, **collect_run(grid.run_dir(method, seed)))
            for seed in grid.seeds_of(method)
            if run_state(grid.run_dir(method, seed)) == 'finished'
        ]
        for method in grid.methods
    }
    for name, finished in results.items():
        for run in finished:
            if not run['val_evaluations']:
                print(f'note: {name} seed {run["seed"]} logged no validation '
                      'metrics (validation off, or no LocalVisBackend in '
                      'vis_backends to write vis_data/scalars.json)')
    os.makedirs(grid.work_root, exist_ok=True)
    table = markdown_table(grid, results) + comparisons_table(grid, results)
    paths = {ext: osp.join(grid.work_root, f'results.{ext}')
             for ext in ('md', 'png', 'json')}
    with open(paths['md'], 'w') as f:
        f.write(table)
    write_json(paths['json'], results)
    seed_chart(grid, results, paths['png'])
    print('\n' + table)
    for path in paths.values():
        print(f'wrote {path}')
    if failed:
        print(f'{len(failed)} of {len(runs)} runs failed: ' +
              ', '.join(failed))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
