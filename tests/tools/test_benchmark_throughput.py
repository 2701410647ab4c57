"""tools/benchmark_throughput.py on a tiny setting: every input path and
the plain loop run through the Runner and report; the CIFAR pickles it
writes read back."""
import importlib.util
import os.path as osp

import numpy as np

from conftest import write_image_folder
from dm_plugin.datasets import CachedImageDataset
from dm_plugin.datasets.cifar_pickle import read_cifar

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
spec = importlib.util.spec_from_file_location(
    'benchmark_throughput', osp.join(ROOT, 'tools', 'benchmark_throughput.py'))
benchmark = importlib.util.module_from_spec(spec)
spec.loader.exec_module(benchmark)
SMALL_MODEL = [
    'model.backbone.stem_channels=8', 'model.backbone.base_channels=8',
    'model.head.in_channels=64'
]


def test_tiny_run_reports_every_path_and_the_speedup(tmp_path):
    data = str(tmp_path / 'data')
    write_image_folder(osp.join(data, 'train'), num_classes=10, per_class=2,
                       size=(32, 32))
    out = tmp_path / 'report.md'
    text = benchmark.main([
        data, '--batch-size', '4', '--iters', '1', '--warmup', '1',
        '--rounds', '1', '--num-workers', '0', '--loader-batches', '2',
        '--methods', 'mixup_mce', '--work-dir', str(tmp_path / 'work'),
        '--out', str(out), '--cfg-options', *SMALL_MODEL
    ])
    assert out.read_text() == text
    lines = text.splitlines()
    assert lines[-1].startswith('fast/stock loader speed-up: ')
    assert float(lines[-1].split(': ')[1].rstrip('x')) > 0
    for path in benchmark.PATHS:
        row = next(line for line in lines
                   if line.startswith(f'| {path} | Mixup + MCE |'))
        assert float(row.split('|')[3].replace(',', '')) > 0
    assert any(line.startswith('| device | plain PyTorch loop |')
               for line in lines)
    dataset = CachedImageDataset(data, cache_dir=str(tmp_path / 'work' /
                                                     'cache'))
    images, labels, classes = read_cifar(
        str(tmp_path / 'work' / 'cifar_pickles'), 'cifar10', 'train')
    np.testing.assert_array_equal(images, dataset.images)
    assert labels.tolist() == dataset.labels.tolist()
    assert classes == dataset.metainfo['classes']
