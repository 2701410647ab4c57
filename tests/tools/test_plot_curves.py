"""tools/plot_curves.py on supervised and semi-supervised logs."""
import json
import os.path as osp
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'tools'))
import plot_curves  # noqa: E402


def write_run(root, val, extra=()):
    """A one-attempt work dir: training loss every iteration, a validation
    (``val``: list of metric dicts) every 2 iterations."""
    folder = root / '20260101_000000' / 'vis_data'
    folder.mkdir(parents=True)
    records = []
    for i, metrics in enumerate(val):
        for step in (2 * i + 1, 2 * i + 2):
            records.append(dict(lr=0.1, loss=2. / step, time=0.1, iter=step,
                                step=step, **{k: 0.5 for k in extra}))
        records.append(dict(metrics, time=0.01, data_time=0.01, step=i + 1))
    (folder / 'scalars.json').write_text(
        '\n'.join(json.dumps(r) for r in records) + '\n')
    return str(root)


SUPERVISED = [{'accuracy/top1': 60., 'calibration/ece': 9.},
              {'accuracy/top1': 70., 'calibration/ece': 4.},
              {'accuracy/top1': 65., 'calibration/ece': 6.}]


def test_supervised_defaults_loss_and_every_val_metric(tmp_path, capsys):
    """Default panels come from what the run logged (the old defaults were
    semi-supervised keys: empty panels, no loss); best ECE is its minimum."""
    run = write_run(tmp_path / 'sup', SUPERVISED)
    out = tmp_path / 'curves.png'
    plot_curves.main([run, '--out', str(out), '--labels', 'DM'])
    printed = capsys.readouterr().out
    assert 'accuracy/top1: final 65, best 70 (iter 4)' in printed
    assert 'calibration/ece: final 6, best 4 (iter 4)' in printed
    curves = plot_curves.read_curves(run)
    assert plot_curves.default_keys([curves]) == [
        'loss', 'accuracy/top1', 'calibration/ece']
    assert out.stat().st_size > 0


def test_semi_supervised_keys_are_added_when_logged(tmp_path):
    run = write_run(tmp_path / 'semi', SUPERVISED[:1],
                    extra=('mask_ratio', 'pseudo_acc'))
    assert plot_curves.default_keys([plot_curves.read_curves(run)]) == [
        'loss', 'accuracy/top1', 'calibration/ece', 'mask_ratio',
        'pseudo_acc']


def test_a_run_keeps_its_colour_in_every_panel(tmp_path):
    """Also where an earlier run lacks a panel's key (run 'a' logged no
    ECE), which shifts matplotlib's default colour cycle."""
    no_ece = [{'accuracy/top1': v['accuracy/top1']} for v in SUPERVISED]
    runs = [plot_curves.read_curves(write_run(tmp_path / name, val))
            for name, val in (('a', no_ece), ('b', SUPERVISED),
                              ('c', SUPERVISED))]
    keys = plot_curves.default_keys(runs) + ['never_logged']
    figure = plot_curves.plot(runs, ['a', 'b', 'c'], keys,
                              str(tmp_path / 'c.png'))
    colour_of = {}
    for axis in figure.axes[:len(keys) - 1]:
        for line in axis.lines:
            assert colour_of.setdefault(line.get_label(),
                                        line.get_color()) == line.get_color()
    assert len(set(colour_of.values())) == 3
    assert [t.get_text() for t in figure.axes[len(keys) - 1].texts] == \
        ['not logged']
    assert figure.axes[2].get_title() == 'calibration/ece (lower is better)'


def test_run_without_any_key_is_named(tmp_path):
    run = write_run(tmp_path / 'sup', SUPERVISED)
    with pytest.raises(KeyError, match='logged none of'):
        plot_curves.main([run, '--out', str(tmp_path / 'x.png'), '--keys',
                          'pseudo_acc'])
