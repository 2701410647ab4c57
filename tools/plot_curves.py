"""Plot training / validation curves of mmengine work dirs into one PNG.

    python tools/plot_curves.py WORK_DIR [WORK_DIR ...] --out curves.png \
        [--labels NAME ...] [--keys accuracy/top1 mask_ratio pseudo_acc]

Each WORK_DIR is a work dir (all its ``<timestamp>/vis_data/scalars.json``
attempts are read, oldest first, so resumed runs join up) or one
``scalars.json`` file. One panel per key, one line per run, against the
training iteration; a validation metric is placed at the last training
iteration logged before it (exact when the validation interval is a multiple
of the logging interval). Prints the final and best value of every
validation key.
"""
import argparse
import glob
import json
import math
import os.path as osp
from typing import Dict, List, Tuple

Points = List[Tuple[int, float]]


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
        default=['accuracy/top1', 'mask_ratio', 'pseudo_acc'],
        help='logged scalars to plot, one panel each')
    parser.add_argument('--title', default='', help='figure title')
    args = parser.parse_args(argv)
    if args.labels and len(args.labels) != len(args.runs):
        parser.error(f'--labels got {len(args.labels)} names for '
                     f'{len(args.runs)} runs')
    return args


def scalar_files(run: str) -> List[str]:
    """The scalars.json files of a run, oldest attempt first."""
    if osp.isfile(run):
        return [run]
    files = sorted(glob.glob(osp.join(run, '*', 'vis_data', 'scalars.json')))
    if not files:
        raise FileNotFoundError(f'no */vis_data/scalars.json under {run} '
                                '(is LocalVisBackend in vis_backends?)')
    return files


def read_curves(run: str) -> Dict[str, Points]:
    """``{key: [(iteration, value), ...]}`` of every scalar of a run.

    Training records carry ``iter``; the others are validation records,
    whose keys get a ``val/`` prefix. A resumed attempt redoes what followed
    its checkpoint, so the points of older attempts from the newer one's
    first logged iteration on are dropped.
    """
    curves: Dict[str, Points] = {}
    for path in scalar_files(run):
        with open(path) as f:
            records = [json.loads(line) for line in f if line.strip()]
        steps = [r['step'] for r in records if 'iter' in r]
        if steps:
            curves = {key: [(x, v) for x, v in points if x < steps[0]]
                      for key, points in curves.items()}
        position = steps[0] - 1 if steps else 0
        for record in records:
            is_train = 'iter' in record
            if is_train:
                position = record['step']
            for key, value in record.items():
                if key in ('step', 'iter', 'epoch') or \
                        not isinstance(value, (int, float)):
                    continue
                name = key if is_train else f'val/{key}'
                curves.setdefault(name, []).append((position, value))
    return curves


def find(curves: Dict[str, Points], key: str) -> Points:
    """The points of ``key``, a validation key with or without ``val/``."""
    return curves.get(key) or curves.get(f'val/{key}') or []


def val_summary(curves: Dict[str, Points]) -> List[str]:
    """``key: final F, best B (iter I)`` for every validation key but the
    timings."""
    lines = []
    for key in sorted(curves):
        name = key[len('val/'):]
        if key.startswith('val/') and name not in ('time', 'data_time'):
            points = curves[key]
            best = max(points, key=lambda p: p[1])
            lines.append(f'{name}: final {points[-1][1]:.4g}, best '
                         f'{best[1]:.4g} (iter {best[0]})')
    return lines


def plot(runs: List[Dict[str, Points]], labels: List[str], keys: List[str],
         out: str, title: str = '') -> None:
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
        for curves, label in zip(runs, labels):
            points = find(curves, key)
            if points:
                xs, ys = zip(*points)
                ax.plot(xs, ys, label=label, marker='.' if len(xs) < 30
                        else None)
        ax.set_title(key)
        ax.set_xlabel('iteration')
        ax.grid(alpha=0.3)
    axes.flat[0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    labels = args.labels or args.runs
    runs = [read_curves(run) for run in args.runs]
    for curves, label in zip(runs, labels):
        if not any(find(curves, key) for key in args.keys):
            raise KeyError(f'{label} logged none of {args.keys}; it has '
                           f'{sorted(curves)}')
        print(f'{label}:')
        for line in val_summary(curves):
            print(f'  {line}')
    plot(runs, labels, args.keys, args.out, args.title)
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
