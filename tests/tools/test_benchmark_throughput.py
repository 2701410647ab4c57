"""tools/benchmark_throughput.py on a tiny setting: every input path and
the plain loop run through the Runner and report; the CIFAR pickles it
writes (as the converter writes them) read back."""
import importlib.util
import os
import os.path as osp

import numpy as np
import pytest

from conftest import write_image_folder
from dm_plugin.datasets import CachedImageDataset, CheckedCIFAR10

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
spec = importlib.util.spec_from_file_location(
    'benchmark_throughput', osp.join(ROOT, 'tools', 'benchmark_throughput.py'))
benchmark = importlib.util.module_from_spec(spec)
spec.loader.exec_module(benchmark)
SMALL_MODEL = [
    'model.backbone.stem_channels=8', 'model.backbone.base_channels=8',
    'model.head.in_channels=64'
]


def cifar10_folder(data: str) -> str:
    """An ImageFolder tree with CIFAR-10's class folders, 2 images each."""
    train = osp.join(data, 'train')
    write_image_folder(train, num_classes=10, per_class=2, size=(32, 32))
    for k, name in enumerate(CheckedCIFAR10.METAINFO['classes']):
        os.rename(osp.join(train, f'class_{k}'), osp.join(train, name))
    return data


def test_tiny_run_reports_every_path_and_the_speedup(tmp_path):
    data = cifar10_folder(str(tmp_path / 'data'))
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
    images, labels, classes = CheckedCIFAR10.read_split(
        str(tmp_path / 'work' / 'cifar_pickles'), 'train')
    # the same (label, image) pairs, shuffled as the archives are
    assert sorted(zip(labels.tolist(), map(bytes, images))) == sorted(
        zip(dataset.labels.tolist(), map(bytes, np.asarray(dataset.images))))
    assert classes == dataset.metainfo['classes']


def test_pickles_need_cifar10_classes(tmp_path):
    data = str(tmp_path / 'data')
    write_image_folder(osp.join(data, 'train'), num_classes=10, per_class=1,
                       size=(32, 32))
    dataset = CachedImageDataset(data, cache_dir=str(tmp_path / 'cache'))
    with pytest.raises(ValueError, match=r"needs the class folders of "
                       r"CIFAR-10 \(missing: \['airplane'.*unexpected: "
                       r"\['class_0'.*--paths stock_jpeg fast"):
        benchmark.write_cifar_pickles(dataset, str(tmp_path / 'pickles'))
