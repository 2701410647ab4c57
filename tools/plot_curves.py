"""Plot training / validation curves of mmengine work dirs into one PNG.

    python tools/plot_curves.py WORK_DIR [WORK_DIR ...] --out curves.png \
        [--labels NAME ...] [--keys loss accuracy/top1 calibration/ece ...]

Each WORK_DIR is a work dir (all its ``<timestamp>/vis_data/scalars.json``
attempts are read, oldest first, so resumed runs join up) or one
``scalars.json`` file. One panel per key, one line per run (the same colour
in every panel), against the training iteration; a validation metric is
placed at the last training iteration logged before it (exact when the
validation interval is a multiple of the logging interval). By default the
panels are the training loss, every validation metric the runs logged, and
the semi-supervised ``mask_ratio`` / ``pseudo_acc`` where logged. Prints the
final and best value of every validation metric (best: the minimum for
ECE, else the maximum).
"""
import argparse
import math
import os.path as osp
import sys
from typing import Dict, List, Tuple

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from dm_plugin.engine.run_logs import (TIMINGS,  # noqa: E402
                                       is_train_record, lower_is_better,
                                       run_lineage, scalar_files,
                                       validation_summary)

Points = List[Tuple[int, float]]
# Training scalars drawn by default when a run logged them.
DEFAULT_TRAIN_KEYS = ('loss', )
SEMI_SUPERVISED_KEYS = ('mask_ratio', 'pseudo_acc')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Plot curves from mmengine scalars.json files')
    parser.add_argument('runs', nargs='+',
                        help='work dirs or scalars.json files')
    parser.add_argument('--out', required=True, help='PNG file to write')
    parser.add_argument('--labels', nargs='+',
                        help='legend names, one per run (default: the paths)')
    parser.add_argument(
        '--keys',
        nargs='+',
        help='logged scalars to plot, one panel each (default: loss, every '
        'validation metric, mask_ratio and pseudo_acc where logged)')
    parser.add_argument('--title', default='', help='figure title')
    args = parser.parse_args(argv)
    if args.labels and len(args.labels) != len(args.runs):
        parser.error(f'--labels got {len(args.labels)} names for '
                     f'{len(args.runs)} runs')
    return args


def read_curves(run: str) -> Dict[str, Points]:
    """``{key: [(iteration, value), ...]}`` of every scalar of a run (its
    attempts joined, see :func:`dm_plugin.engine.run_logs.lineage`);
    validation keys get a ``val/`` prefix."""
    if not scalar_files(run):
        raise FileNotFoundError(f'no */vis_data/scalars.json under {run} '
                                '(is LocalVisBackend in vis_backends?)')
    curves: Dict[str, Points] = {}
    for position, record in run_lineage(run):
        prefix = '' if is_train_record(record) else 'val/'
        for key, value in record.items():
            if key not in ('step', 'iter', 'epoch') and isinstance(
                    value, (int, float)):
                curves.setdefault(prefix + key, []).append((position, value))
    return curves


def find(curves: Dict[str, Points], key: str) -> Points:
    """The points of ``key``, a validation key with or without ``val/``."""
    return curves.get(key) or curves.get(f'val/{key}') or []


def default_keys(runs: List[Dict[str, Points]]) -> List[str]:
    """The training loss, every validation metric but the timings, and the
    semi-supervised scalars, as far as any run logged them."""
    logged = set().union(*runs)
    val = sorted(key[len('val/'):] for key in logged
                 if key.startswith('val/') and key[len('val/'):] not in
                 TIMINGS + ('lr', ))
    return [key for key in DEFAULT_TRAIN_KEYS if key in logged] + val + \
        [key for key in SEMI_SUPERVISED_KEYS if key in logged]


def val_summary(run: str) -> List[str]:
    """``key: final F, best B (iter I)`` for every validation key but the
    timings."""
    return [
        f'{name}: final {v["final"]:.4g}, best {v["best"]:.4g} '
        f'(iter {v["best_iter"]})'
        for name, v in validation_summary(run_lineage(run)).items()
    ]


def plot(runs: List[Dict[str, Points]], labels: List[str], keys: List[str],
         out: str, title: str = ''):
    """Write the figure to ``out`` and return it."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    rows = math.ceil(len(keys) / 3)
    cols = math.ceil(len(keys) / rows)
    fig, axes = plt.subplots(
        rows, cols, figsize=(4.5 * cols, 3.6 * rows), squeeze=False)
    for ax in axes.flat[len(keys):]:
        ax.axis('off')
    for ax, key in zip(axes.flat, keys):
        if not any(find(curves, key) for curves in runs):
            ax.text(0.5, 0.5, 'not logged', ha='center', va='center',
                    transform=ax.transAxes, color='gray')
        for index, (curves, label) in enumerate(zip(runs, labels)):
            points = find(curves, key)
            if points:
                xs, ys = zip(*points)
                ax.plot(xs, ys, label=label, color=f'C{index % 10}',
                        marker='.' if len(xs) < 30 else None)
        ax.set_title(f'{key} (lower is better)' if lower_is_better(key)
                     else key)
        ax.set_xlabel('iteration')
        ax.grid(alpha=0.3)
    axes.flat[0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    return fig


def main(argv=None):
    args = parse_args(argv)
    labels = args.labels or args.runs
    runs = [read_curves(run) for run in args.runs]
    keys = args.keys or default_keys(runs)
    for run, curves, label in zip(args.runs, runs, labels):
        if not any(find(curves, key) for key in keys):
            raise KeyError(f'{label} logged none of {keys}; it has '
                           f'{sorted(curves)}')
        print(f'{label}:')
        for line in val_summary(run):
            print(f'  {line}')
    figure = plot(runs, labels, keys, args.out, args.title)
    import matplotlib.pyplot as plt
    plt.close(figure)
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
