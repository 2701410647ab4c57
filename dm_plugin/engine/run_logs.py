"""The scalars a run logged, joined over its attempts (fresh starts and
resumes), as ``tools/train.py``, ``tools/compare.py`` and
``tools/plot_curves.py`` report them.

mmengine's ``LocalVisBackend`` writes one ``vis_data/scalars.json`` per
attempt, under ``<work_dir>/<timestamp>/``: training records carry ``iter``
and ``step`` (the iteration), validation records a ``step`` of their own.
"""
import glob
import json
import os.path as osp
from typing import Dict, List, Tuple

# Validation metrics for which lower is better (the ECE metric); any other
# metric is best at its maximum.
LOWER_IS_BETTER = ('/ece', )
TIMINGS = ('time', 'data_time')


def scalar_files(run: str) -> List[str]:
    """The ``scalars.json`` files of a work dir, oldest attempt first (their
    folders are named by start time), or ``[run]`` for one such file."""
    if osp.isfile(run):
        return [run]
    return sorted(glob.glob(osp.join(run, '*', 'vis_data', 'scalars.json')))


def read_records(path: str) -> List[dict]:
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def is_train_record(record: dict) -> bool:
    return 'iter' in record


def lineage(attempts: List[List[dict]]) -> List[Tuple[int, dict]]:
    """``(iteration, record)`` of the training that produced the final
    model, in order.

    A resumed attempt redoes what its predecessor did after the checkpoint
    it resumed from, and a fresh start redoes everything, so an older
    attempt's records at or after the newer attempt's first logged training
    iteration are dropped. A validation record is placed at the last
    training iteration logged before it (exact when the validation interval
    is a multiple of the logging interval).
    """
    kept, position = [], 0
    for records in attempts:
        steps = [r['step'] for r in records if is_train_record(r)]
        if steps:
            kept = [(pos, r) for pos, r in kept if pos < steps[0]]
            position = steps[0] - 1
        for record in records:
            if is_train_record(record):
                position = record['step']
            elif 'lr' in record:  # iteration-based loops' extra lr records
                continue
            kept.append((position, record))
    return kept


def run_lineage(run: str) -> List[Tuple[int, dict]]:
    """:func:`lineage` of a work dir's (or one file's) attempts."""
    return lineage([read_records(path) for path in scalar_files(run)])


def lower_is_better(metric: str) -> bool:
    return metric.endswith(LOWER_IS_BETTER)


def validation_summary(
        points: List[Tuple[int, dict]]) -> Dict[str, Dict[str, float]]:
    """``{metric: dict(final, best, best_iter)}`` of every validation metric
    but the timings; best is the minimum for :data:`LOWER_IS_BETTER` ones,
    else the maximum, and the first iteration reaching it."""
    series: Dict[str, List[Tuple[int, float]]] = {}
    for position, record in points:
        if is_train_record(record):
            continue
        for key, value in record.items():
            if key != 'step' and key not in TIMINGS and isinstance(
                    value, (int, float)):
                series.setdefault(key, []).append((position, value))
    summary = {}
    for key, values in sorted(series.items()):
        pick = min if lower_is_better(key) else max
        best = pick(values, key=lambda p: p[1])
        summary[key] = dict(final=values[-1][1], best=best[1],
                            best_iter=best[0])
    return summary
