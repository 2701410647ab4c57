"""Draw reliability diagrams from dumped test predictions.

    python tools/test.py CONFIG CKPT --out work_dirs/mce/preds.pkl
    python tools/plot_reliability.py work_dirs/mce/preds.pkl \
        work_dirs/dm/preds.pkl --labels MCE DM --out reliability.png

One panel per prediction file: the accuracy of each confidence bin as bars,
the gap to the bin's mean confidence shaded, the diagonal of perfect
calibration, and the ECE (15 bins by default) in the legend.
"""
import argparse
import os.path as osp
import sys
from typing import List, Sequence, Tuple

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from dm_plugin.evaluation import (  # noqa: E402
    calibration_bins, expected_calibration_error, top1_confidence)


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


def load_predictions(path: str) -> Tuple[torch.Tensor, torch.Tensor]:
    """``(scores (N, C), labels (N,))`` from a ``DumpResults`` pickle."""
    from mmengine.fileio import load

    if not osp.isfile(path):
        raise FileNotFoundError(f'prediction file not found: {path}')
    samples = load(path, file_format='pkl')
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


def draw_panel(axis, confidences, correct, n_bins: int, title: str) -> float:
    """Draw one reliability diagram; returns the ECE in percent."""
    counts, bin_confidence, bin_accuracy = calibration_bins(
        confidences, correct, n_bins)
    ece = 100 * float(expected_calibration_error(confidences, correct,
                                                 n_bins))
    top1 = 100 * float(correct.double().mean())
    width = 1. / n_bins
    centers = (torch.arange(n_bins, dtype=torch.float64) + 0.5) * width
    occupied = counts > 0
    centers, bin_confidence, bin_accuracy = (
        centers[occupied].numpy(), bin_confidence[occupied].numpy(),
        bin_accuracy[occupied].numpy())
    axis.bar(centers, bin_accuracy, width=width, color='tab:blue',
             edgecolor='black', linewidth=0.5,
             label=f'Accuracy (top-1 {top1:.1f}%)')
    axis.bar(centers, bin_confidence - bin_accuracy, width=width,
             bottom=bin_accuracy, color='tab:red', alpha=0.3,
             edgecolor='tab:red', hatch='//', linewidth=0.5,
             label=f'Gap (ECE {ece:.2f}%)')
    axis.plot([0, 1], [0, 1], '--', color='gray', label='Perfect calibration')
    axis.set(xlim=(0, 1), ylim=(0, 1), xlabel='Confidence',
             ylabel='Accuracy', title=title, aspect='equal')
    axis.legend(loc='upper left', fontsize='small')
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
        1, len(predictions), figsize=(4.2 * len(predictions), 4.4),
        squeeze=False)
    eces = [
        draw_panel(axis, *top1_confidence(scores, targets), n_bins, label)
        for axis, (scores, targets), label in zip(axes[0], predictions,
                                                  labels)
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
