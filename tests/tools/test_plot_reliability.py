"""tools/plot_reliability.py on predictions dumped the way tools/test.py
--out dumps them (mmengine's DumpResults)."""
import importlib.util
import os.path as osp
import pickle
import re

import pytest
import torch
from mmengine.evaluator import DumpResults, Evaluator
from mmpretrain.structures import DataSample
from PIL import Image

from conftest import shell_payload
from dm_plugin.evaluation import expected_calibration_error, top1_confidence

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def load_tool(name):
    spec = importlib.util.spec_from_file_location(
        name, osp.join(ROOT, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


plot_reliability = load_tool('plot_reliability')


def dump_predictions(path, scores, labels):
    evaluator = Evaluator([DumpResults(out_file_path=path)])
    evaluator.process([
        DataSample().set_pred_score(score).set_gt_label(int(label))
        for score, label in zip(scores, labels)
    ])
    evaluator.evaluate(len(labels))
    return path


def predictions(seed, sharpness):
    generator = torch.Generator().manual_seed(seed)
    scores = (sharpness * torch.randn(40, 5, generator=generator)).softmax(1)
    return scores, torch.randint(5, (40, ), generator=generator)


def test_two_panels_with_ece(tmp_path, capsys):
    sharp, soft = predictions(0, 8.), predictions(1, 1.)
    files = [
        dump_predictions(str(tmp_path / 'mce.pkl'), *sharp),
        dump_predictions(str(tmp_path / 'dm.pkl'), *soft)
    ]
    out = str(tmp_path / 'reliability.png')
    plot_reliability.main(files + ['--out', out, '--labels', 'MCE', 'DM'])
    printed = capsys.readouterr().out
    for label, (scores, labels) in zip(['MCE', 'DM'], [sharp, soft]):
        ece = 100 * float(
            expected_calibration_error(*top1_confidence(scores, labels)))
        match = re.search(rf'{label}: 40 predictions, ECE ([\d.]+)%', printed)
        assert float(match.group(1)) == pytest.approx(ece, abs=0.006)
    width, height = Image.open(out).size
    one_panel = str(tmp_path / 'one.png')
    plot_reliability.main([files[0], '--out', one_panel, '--n-bins', '10'])
    single_width, single_height = Image.open(one_panel).size
    assert single_height == height
    assert width > 1.8 * single_width


def test_loaded_predictions_match_dumped(tmp_path):
    scores, labels = predictions(2, 3.)
    path = dump_predictions(str(tmp_path / 'preds.pkl'), scores, labels)
    loaded_scores, loaded_labels = plot_reliability.load_predictions(path)
    assert torch.allclose(loaded_scores, scores)
    assert torch.equal(loaded_labels, labels)


def test_default_labels_disambiguate_repeated_names():
    assert plot_reliability.default_labels(['a/mce.pkl', 'b/dm.pkl']) == \
        ['mce', 'dm']
    assert plot_reliability.default_labels(['a/preds.pkl', 'b/preds.pkl']) \
        == ['a/preds', 'b/preds']


def test_bad_inputs(tmp_path):
    with pytest.raises(FileNotFoundError, match='prediction file'):
        plot_reliability.load_predictions(str(tmp_path / 'missing.pkl'))
    path = dump_predictions(str(tmp_path / 'p.pkl'), *predictions(3, 1.))
    with pytest.raises(SystemExit):
        plot_reliability.parse_args([path, '--out', 'x.png', '--labels', 'A',
                                     'B'])
    with pytest.raises(FileNotFoundError, match='--out directory'):
        plot_reliability.main(
            [path, '--out', str(tmp_path / 'nowhere' / 'x.png')])
    empty = dump_predictions(str(tmp_path / 'empty.pkl'), [], [])
    with pytest.raises(ValueError, match='non-empty list'):
        plot_reliability.load_predictions(empty)


class StorageRunsCode:
    """A tensor storage whose inner (torch legacy) pickle runs code."""

    def __init__(self, marker):
        self.inner = pickle.dumps(shell_payload(marker), protocol=2)

    def __reduce__(self):
        return torch.storage._load_from_bytes, (self.inner, )


@pytest.mark.parametrize('payload, reason', [
    (shell_payload, r'refusing the global posix\.system'),
    (StorageRunsCode, 'refusing a tensor storage .*GLOBAL posix.system'),
])
def test_crafted_prediction_file_is_refused_without_running_code(
        tmp_path, payload, reason):
    marker = tmp_path / 'marker'
    path = str(tmp_path / 'preds.pkl')
    with open(path, 'wb') as f:
        pickle.dump([dict(pred_score=payload(marker), gt_label=1)], f)
    with pytest.raises(pickle.UnpicklingError,
                       match=f'{re.escape(path)}: {reason}'):
        plot_reliability.load_predictions(path)
    assert not marker.exists()


def test_crafted_file_is_live(tmp_path):
    """The payload of the test above does run through a plain unpickler."""
    marker = tmp_path / 'marker'
    pickle.loads(pickle.dumps(shell_payload(marker)))
    assert marker.exists()


def test_truncated_file_is_named(tmp_path):
    path = dump_predictions(str(tmp_path / 'p.pkl'), *predictions(4, 1.))
    data = open(path, 'rb').read()
    open(path, 'wb').write(data[:len(data) // 2])
    with pytest.raises(ValueError, match='p.pkl is not a readable pickle'):
        plot_reliability.load_predictions(path)


def facecolors(patches):
    return {tuple(round(c, 3) for c in patch.get_facecolor())
            for patch in patches}


@pytest.mark.parametrize('over', [True, False])
def test_every_drawn_colour_is_in_the_legend_and_counts_are_per_bin(over):
    """Over-confident bins get a red gap above the bar, under-confident ones
    an orange top; bars are opaque so overlaps make no colour of their own;
    the lower panel counts the predictions of each bin."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    generator = torch.Generator().manual_seed(5)
    confidences = 0.3 + 0.7 * torch.rand(200, generator=generator)
    # Right far less (over) or far more (under) often than confident.
    rate = confidences - 0.25 if over else confidences + 0.25
    correct = torch.rand(200, generator=generator) < rate
    figure, (axis, count_axis) = plt.subplots(2, 1)
    plot_reliability.draw_panel(axis, count_axis, confidences, correct, 10,
                                'model')
    drawn = [p for p in axis.patches if p.get_height() > 0]
    legend = axis.get_legend()
    assert facecolors(drawn) <= facecolors(legend.get_patches())
    assert all(p.get_alpha() in (None, 1) for p in drawn)
    gap = matplotlib.colors.to_rgba(plot_reliability.OVER_COLOR if over
                                    else plot_reliability.UNDER_COLOR)
    assert tuple(round(c, 3) for c in gap) in facecolors(drawn)
    # Per-bin counts against a per-sample count.
    expected = [0] * 10
    for confidence in confidences.tolist():
        expected[min(int(confidence * 10 - 1e-9), 9)] += 1
    assert [p.get_height() for p in count_axis.patches] == expected
    labels = [t.get_text() for t in count_axis.texts]
    assert labels == [str(n) if n else '' for n in expected]
    plt.close(figure)
