"""Draw reliability diagrams from dumped test predictions.

    python tools/test.py CONFIG CKPT --out work_dirs/mce/preds.pkl
    python tools/plot_reliability.py work_dirs/mce/preds.pkl \
        work_dirs/dm/preds.pkl --labels MCE DM --out reliability.png

One panel per prediction file: the accuracy of each confidence bin as bars,
the gap to the bin's mean confidence in red (over-confident: confidence above
accuracy) or orange (under-confident), the diagonal of perfect calibration,
the ECE (15 bins by default) in the legend, and below it the number of
predictions in each bin.

The pickle files are read by ``dm_plugin.safe_pickle``'s restricted
unpickler with the few globals that mmengine's ``DumpResults`` writes
besides numpy's (tensors, ``OrderedDict``); tensor storage is loaded with
``torch.load(weights_only=True)``. A file that asks for anything else is
refused before it can run code.
"""
import argparse
import collections
import io
import os.path as osp
import pickle
import sys
from typing import List, Sequence, Tuple

import torch
import torch._utils

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from dm_plugin.evaluation import (  # noqa: E402
    calibration_bins, expected_calibration_error, top1_confidence)
from dm_plugin.safe_pickle import (  # noqa: E402
    PLAIN_PICKLE_GLOBALS, UnsafePickleError, load_pickle)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Reliability diagrams of dumped predictions')
    parser.add_argument(
        'predictions',
        nargs='+',
        help='pickle files written by tools/test.py --out')
    parser.add_argument('--out', required=True, help='PNG file to write')
    parser.add_argument(
        '--labels',
        nargs='+',
        help='panel titles, one per file (default: the file names)')
    parser.add_argument(
        '--n-bins', type=int, default=15, help='confidence bins (15)')
    args = parser.parse_args(argv)
    if args.labels and len(args.labels) != len(args.predictions):
        parser.error(f'--labels got {len(args.labels)} names for '
                     f'{len(args.predictions)} prediction files')
    return args


def default_labels(paths: Sequence[str]) -> List[str]:
    """File names without extension, or whole paths where names repeat."""
    names = [osp.splitext(osp.basename(path))[0] for path in paths]
    if len(set(names)) < len(names):
        names = [osp.splitext(path)[0] for path in paths]
    return names


def load_storage(data: bytes):
    """``torch.storage._load_from_bytes`` with ``weights_only=True``."""
    try:
        return torch.load(io.BytesIO(data), weights_only=True)
    except pickle.UnpicklingError as error:
        reason = [line for line in str(error).splitlines()
                  if 'GLOBAL' in line] or ['not tensor data']
        raise UnsafePickleError(
            'refusing a tensor storage that asks for more than tensor data '
            f'({reason[0]})') from None


# What DumpResults writes: numpy's and these.
PREDICTION_GLOBALS = {
    **PLAIN_PICKLE_GLOBALS,
    'collections.OrderedDict': collections.OrderedDict,
    'torch._utils._rebuild_tensor_v2': torch._utils._rebuild_tensor_v2,
    'torch.storage._load_from_bytes': load_storage,
}


def read_pickle(path: str):
    """The object in a predictions pickle, loaded without running code."""
    with open(path, 'rb') as f:
        data = f.read()
    try:
        return load_pickle(data, path, PREDICTION_GLOBALS)
    except UnsafePickleError as error:
        raise UnsafePickleError(
            f'{error}: a predictions file holds tensors and dicts only '
            '(tools/test.py --out FILE.pkl)') from None


def load_predictions(path: str) -> Tuple[torch.Tensor, torch.Tensor]:
    """``(scores (N, C), labels (N,))`` from a ``DumpResults`` pickle."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'prediction file not found: {path}')
    samples = read_pickle(path)
    if not isinstance(samples, list) or not samples:
        raise ValueError(f'{path}: expected a non-empty list of predictions '
                         '(tools/test.py --out FILE.pkl)')
    for key in ('pred_score', 'gt_label'):
        if not all(isinstance(s, dict) and key in s for s in samples):
            raise ValueError(f'{path}: every prediction needs {key!r}')
    scores = torch.stack([torch.as_tensor(s['pred_score']) for s in samples])
    labels = torch.cat([
        torch.as_tensor(s['gt_label']).reshape(-1) for s in samples
    ])
    if labels.numel() != len(samples):
        raise ValueError(f'{path}: reliability diagrams need single-label '
                         'predictions')
    return scores.float(), labels.long()


# Colours of the diagram; every one drawn is in the legend (no transparency,
# so overlaps cannot make colours of their own).
ACCURACY_COLOR = 'tab:blue'
OVER_COLOR = 'tab:red'  # confidence above accuracy
UNDER_COLOR = 'tab:orange'  # confidence below accuracy


def draw_panel(axis, count_axis, confidences, correct, n_bins: int,
               title: str) -> float:
    """Draw one reliability diagram and its per-bin counts; returns the ECE
    in percent.

    Each occupied bin is a bar from 0 to its accuracy; the gap to its mean
    confidence is a red bar above it when the bin is over-confident, and the
    top of the bar drawn orange when it is under-confident.
    """
    counts, bin_confidence, bin_accuracy = calibration_bins(
        confidences, correct, n_bins)
    ece = 100 * float(expected_calibration_error(confidences, correct,
                                                 n_bins))
    top1 = 100 * float(correct.double().mean())
    width = 1. / n_bins
    centers = ((torch.arange(n_bins, dtype=torch.float64) + 0.5) *
               width).numpy()
    occupied = (counts > 0).numpy()
    confidence, accuracy = bin_confidence.numpy(), bin_accuracy.numpy()
    low = occupied * accuracy.clip(max=confidence)
    over = occupied * (confidence - accuracy).clip(min=0)
    under = occupied * (accuracy - confidence).clip(min=0)
    style = dict(width=width, edgecolor='black', linewidth=0.5)
    axis.bar(centers, low, color=ACCURACY_COLOR,
             label=f'Accuracy (top-1 {top1:.1f}%)', **style)
    axis.bar(centers, under, bottom=low, color=UNDER_COLOR,
             label='Gap, under-confident', **style)
    axis.bar(centers, over, bottom=low, color=OVER_COLOR,
             label='Gap, over-confident', **style)
    axis.plot([0, 1], [0, 1], '--', color='gray', label='Perfect calibration')
    axis.plot([], [], ' ', label=f'ECE {ece:.2f}% ({n_bins} bins)')
    axis.set(xlim=(0, 1), ylim=(0, 1), ylabel='Accuracy')
    axis.tick_params(labelbottom=False)
    # Above the axes, where it covers no bar.
    handles, names = axis.get_legend_handles_labels()
    order = [names.index(name) for name in sorted(
        names, key=lambda n: (n.startswith(('Perfect', 'ECE')), 0))]
    axis.legend([handles[i] for i in order], [names[i] for i in order],
                title=title, loc='lower center', bbox_to_anchor=(0.5, 1.0),
                ncol=2, fontsize='small', frameon=False)
    bars = count_axis.bar(centers, counts.numpy(), color='gray', **style)
    count_axis.bar_label(bars, labels=[
        str(int(c)) if c else '' for c in counts.tolist()
    ], fontsize=6, rotation=90, padding=2)
    count_axis.set(xlim=(0, 1), xlabel='Confidence', ylabel='Predictions')
    count_axis.set_ylim(0, 1.35 * max(float(counts.max()), 1.))
    return ece


def plot_reliability(predictions: Sequence[Tuple[torch.Tensor, torch.Tensor]],
                     labels: Sequence[str],
                     out_file: str,
                     n_bins: int = 15) -> List[float]:
    """Write one panel per ``(scores, labels)`` pair; returns the ECEs (%)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    out_dir = osp.dirname(osp.abspath(out_file))
    if not osp.isdir(out_dir):
        raise FileNotFoundError(f'--out directory does not exist: {out_dir}')
    figure, axes = plt.subplots(
        2, len(predictions), figsize=(4.2 * len(predictions), 5.6),
        squeeze=False, sharex='col', height_ratios=(3, 1))
    eces = [
        draw_panel(axis, count_axis, *top1_confidence(scores, targets),
                   n_bins, label)
        for axis, count_axis, (scores, targets), label in zip(
            axes[0], axes[1], predictions, labels)
    ]
    figure.tight_layout()
    figure.savefig(out_file, dpi=120)
    plt.close(figure)
    return eces


def main(argv=None):
    args = parse_args(argv)
    labels = args.labels or default_labels(args.predictions)
    predictions = [load_predictions(path) for path in args.predictions]
    eces = plot_reliability(predictions, labels, args.out, args.n_bins)
    for label, (scores, _), ece in zip(labels, predictions, eces):
        print(f'{label}: {len(scores)} predictions, ECE {ece:.2f}% '
              f'({args.n_bins} bins)')
    print(f'reliability diagram: {args.out}')


if __name__ == '__main__':
    main()
