"""Reading a run's scalars over its attempts (dm_plugin/engine/run_logs.py),
as tools/train.py, compare.py and plot_curves.py report them."""
import json

import pytest

from dm_plugin.engine.run_logs import (lineage, run_lineage, scalar_files,
                                       validation_summary)


def record(step=None, **metrics):
    if step is not None:
        return dict(lr=0.1, loss=1., time=0.5, iter=step, step=step)
    return dict(time=0.1, step=0, **metrics)


def test_lineage_drops_records_redone_after_resume_or_restart():
    first = [record(1), record(2), record(**{'accuracy/top1': 10.}),
             record(3), record(4), record(**{'accuracy/top1': 20.})]
    # Resumed from the iteration-2 checkpoint: iterations 3-4 redone.
    second = [record(3), record(4), record(**{'accuracy/top1': 30.})]
    # Resumed at the end: nothing logged.
    kept = lineage([first, second, []])
    assert [r for _, r in kept] == first[:3] + second
    assert kept[3][1] is second[0]
    # Validations sit at the last training iteration logged before them.
    assert [pos for pos, _ in kept] == [1, 2, 2, 3, 4, 4]
    # A fresh restart replaces everything, iteration times included.
    restart = [dict(r, time=2.) if 'iter' in r else r for r in first[:3]]
    assert [r for _, r in lineage([first, restart])] == restart


def test_summary_best_is_min_for_ece_and_max_otherwise():
    values = [(10., 9.), (30., 4.), (20., 6.)]  # (top-1, ECE) per validation
    points = [(i, record(**{'accuracy/top1': top1, 'calibration/ece': ece}))
              for i, (top1, ece) in enumerate(values)]
    summary = validation_summary(points)
    assert set(summary) == {'accuracy/top1', 'calibration/ece'}  # no timings
    top1 = [v[0] for v in values]
    ece = [v[1] for v in values]
    assert summary['accuracy/top1'] == dict(
        final=top1[-1], best=max(top1), best_iter=top1.index(max(top1)))
    assert summary['calibration/ece'] == dict(
        final=ece[-1], best=min(ece), best_iter=ece.index(min(ece)))


def test_attempts_are_read_oldest_first(tmp_path):
    for stamp, records in (('20260102_000000', [record(3), record(
            **{'accuracy/top1': 3.})]), ('20260101_000000', [
                record(1), record(2), record(3), record(
                    **{'accuracy/top1': 1.})])):
        folder = tmp_path / stamp / 'vis_data'
        folder.mkdir(parents=True)
        (folder / 'scalars.json').write_text(
            '\n'.join(json.dumps(r) for r in records) + '\n')
    assert [p.split('/')[-3] for p in scalar_files(str(tmp_path))] == [
        '20260101_000000', '20260102_000000']
    points = run_lineage(str(tmp_path))
    assert [pos for pos, _ in points] == [1, 2, 3, 3]
    assert validation_summary(points)['accuracy/top1']['final'] == \
        pytest.approx(3.)
