"""tools/plot_reliability.py on predictions dumped the way tools/test.py
--out dumps them (mmengine's DumpResults)."""
import importlib.util
import os.path as osp
import re

import pytest
import torch
from mmengine.evaluator import DumpResults, Evaluator
from mmpretrain.structures import DataSample
from PIL import Image

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
