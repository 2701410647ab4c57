"""tools/visualize_mixers.py and tools/benchmark_step.py, run as users do."""
import os.path as osp
import sys

import pytest
import torch
from conftest import write_image_folder
from mmengine.config import Config
from PIL import Image

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))
sys.path.insert(0, osp.join(ROOT, 'tools'))
import benchmark_step  # noqa: E402
import visualize_mixers  # noqa: E402

STATIC = ['Mixup', 'CutMix', 'ResizeMix', 'FMix', 'GridMix', 'SaliencyMix',
          'SmoothMix', 'ManifoldMix']


def read_png(path):
    with Image.open(path) as image:
        assert image.format == 'PNG'
        return image.size


def test_visualizer_draws_each_static_mixer_from_digits(tmp_path):
    out = tmp_path / 'grids'
    visualize_mixers.main(['--out', str(out), '--pairs', '2', '--mixers',
                           *STATIC])
    sizes = {name: read_png(out / f'{name}.png') for name in STATIC}
    width, height = read_png(out / 'overview.png')
    assert height > width  # one row per mixer
    assert all(w > h for w, h in sizes.values())  # 2 rows of 4


def test_visualizer_reads_a_folder(tmp_path):
    root = write_image_folder(str(tmp_path / 'data'), size=(12, 20))
    visualize_mixers.main([root, '--out', str(tmp_path / 'out'), '--mixers',
                           'CutMix', '--pairs', '3'])
    read_png(tmp_path / 'out' / 'CutMix.png')


def test_visualizer_takes_the_mixers_of_a_config(runner_cfg, tmp_path):
    cfg = runner_cfg()
    cfg['model']['mixer'] = [dict(type='FMix', max_soft=0.2),
                             dict(type='GridMix', n_holes=(2, 3))]
    path = str(tmp_path / 'cfg.py')
    Config(cfg).dump(path)
    visualize_mixers.main([path, '--out', str(tmp_path / 'out'), '--pairs',
                           '1'])
    assert sorted(p.name for p in (tmp_path / 'out').iterdir()) == [
        'FMix.png', 'GridMix.png', 'overview.png']


def test_visualizer_refuses_unknown_sources_and_mixers(tmp_path):
    with pytest.raises(FileNotFoundError, match='neither'):
        visualize_mixers.main([str(tmp_path / 'missing'), '--out',
                               str(tmp_path)])
    with pytest.raises(KeyError, match='NoSuchMix'):
        visualize_mixers.main(['--out', str(tmp_path), '--mixers',
                               'NoSuchMix'])


def test_fitted_mask_recovers_blend_weights():
    torch.manual_seed(0)
    own, other = torch.rand(2, 3, 5, 6), torch.rand(2, 3, 5, 6)
    weight = torch.rand(2, 1, 5, 6)
    mixed = weight * own + (1 - weight) * other
    torch.testing.assert_close(
        visualize_mixers.fitted_mask(own, other, mixed), weight[:, 0])
    # A pixel that is no blend of the two, and one where they are alike.
    mixed[0, :, 0, 0] = torch.tensor([5., -5., 5.])
    other[1, :, 0, 0] = own[1, :, 0, 0]
    mask = visualize_mixers.fitted_mask(own, other, mixed)
    assert mask[0, 0, 0].isnan() and mask[1, 0, 0].isnan()


def test_benchmark_step_writes_the_table(tmp_path):
    out = tmp_path / 'table.md'
    benchmark_step.main(['--device', 'cpu', '--repeats', '1', '--warmup',
                         '0', '--batch-size', '2', '--mixers', 'CutMix',
                         '--out', str(out)])
    lines = out.read_text().splitlines()
    assert lines[0].startswith('ResNet_CIFAR-18, batch 2x3x32x32, CPU')
    rows = [line.split(' | ') for line in lines[4:] if line.startswith('|')]
    assert [row[0].strip('| ') for row in rows] == [
        'no mixing', 'Mixup', 'CutMix']
    assert rows[-1][-1].endswith('%) |')  # CutMix alone, share of a step
    assert lines[-1].startswith('Loss alone') and 'DM adds' in lines[-1]
