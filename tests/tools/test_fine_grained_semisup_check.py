"""tools/fine_grained_semisup_check.py: the generated set and one short run
through the real DMixTuning config."""
import importlib.util
import json
import os.path as osp

import numpy as np

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
spec = importlib.util.spec_from_file_location(
    'fine_grained_semisup_check',
    osp.join(ROOT, 'tools', 'fine_grained_semisup_check.py'))
check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check)


def test_classes_differ_in_the_colour_of_the_mark():
    rng = np.random.default_rng(0)
    for label in range(4):
        image = check.draw_bird(rng, label, 4)
        assert image.shape == (32, 32, 3) and image.dtype == np.uint8
    # Same draws, other class: only the mark's pixels change.
    first = check.draw_bird(np.random.default_rng(1), 0, 4)
    second = check.draw_bird(np.random.default_rng(1), 2, 4)
    changed = (first != second).any(axis=-1).sum()
    assert 5 <= changed <= 25


def test_a_short_run_writes_its_metrics(tmp_path):
    results = check.main(['--work-dir', str(tmp_path), '--epochs', '1',
                          '--classes', '2', '--methods', 'dmix_tuning'])
    metrics = results['dmix_tuning']
    # 2 classes x 40 images, 6 of each labeled: 68 unlabeled, 2 batches.
    assert metrics['iterations'] == 2
    assert 0 <= metrics['accuracy/top1'] <= 100
    assert np.isfinite(metrics['loss_mix_ll'])
    with open(tmp_path / 'results.json') as f:
        assert json.load(f) == results
    assert len(list((tmp_path / 'data' / 'test').glob('*/*.png'))) == 40
