"""CheckedCIFAR10/100 and tools/dataset_converters/folder_to_cifar.py: an
ImageFolder tree round-trips through the CIFAR python layout; missing,
mismatching and crafted files are named, and nothing is downloaded."""
import hashlib
import os
import os.path as osp
import pickle
import sys

import numpy as np
import pytest
from mmpretrain.datasets import CIFAR10
from PIL import Image

from dm_plugin.datasets import CheckedCIFAR10, CheckedCIFAR100

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'tools', 'dataset_converters'))
import folder_to_cifar  # noqa: E402


def write_tree(root, classes, per_split=(('train', 2), ('test', 1)),
               seed=0):
    """Random 32x32 PNGs (lossless) under root/<split>/<class>/; returns
    ``{split: [(pixels HWC uint8, label)]}``."""
    rng = np.random.default_rng(seed)
    written = {}
    for split, count in per_split:
        for label, name in enumerate(classes):
            os.makedirs(osp.join(root, split, name))
            for i in range(count):
                pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(
                    osp.join(root, split, name, f'{i}.png'))
                written.setdefault(split, []).append((pixels, label))
    return written


def as_set(items):
    return sorted((pixels.tobytes(), label) for pixels, label in items)


@pytest.fixture(scope='module')
def converted(tmp_path_factory):
    """CIFAR-10's ten classes, two train and one test image each."""
    root = tmp_path_factory.mktemp('cifar')
    written = write_tree(str(root / 'tree'),
                         CheckedCIFAR10.METAINFO['classes'])
    folder_to_cifar.main([str(root / 'tree'), str(root / 'data')])
    return str(root / 'data'), written


def copy_of(converted, tmp_path):
    import shutil
    data_root, _ = converted
    shutil.copytree(data_root, tmp_path / 'data')
    return str(tmp_path / 'data'), str(tmp_path / 'data' /
                                        'cifar-10-batches-py')


def test_round_trip_cifar10(converted):
    data_root, written = converted
    for split in ('train', 'test'):
        dataset = CheckedCIFAR10(data_root=data_root, split=split)
        loaded = [(dataset.get_data_info(i)['img'],
                   dataset.get_data_info(i)['gt_label'])
                  for i in range(len(dataset))]
        assert as_set(loaded) == as_set(written[split])
    # Five training batches (as in the archive), rows in its channel-plane
    # order, shuffled, and readable the way mmpretrain's CIFAR10 reads them.
    folder = osp.join(data_root, 'cifar-10-batches-py')
    rows, labels = [], []
    for name, _ in CIFAR10.train_list:
        with open(osp.join(folder, name), 'rb') as f:
            batch = pickle.load(f, encoding='latin1')
        rows.append(batch['data'])
        labels += batch['labels']
    rows = np.concatenate(rows)
    expected = {pixels.tobytes(): label for pixels, label in written['train']}
    for row, label in zip(rows, labels):
        assert expected[row.reshape(3, 32, 32).transpose(1, 2, 0).tobytes()
                        ] == label
    assert labels != sorted(labels)


def test_round_trip_cifar100(tmp_path):
    classes = CheckedCIFAR100.METAINFO['classes']
    written = write_tree(str(tmp_path / 'tree'), classes,
                         (('train', 1), ('test', 1)))
    folder_to_cifar.main([str(tmp_path / 'tree'), str(tmp_path / 'data'),
                          '--dataset', 'cifar100'])
    for split in ('train', 'test'):
        dataset = CheckedCIFAR100(data_root=str(tmp_path / 'data'),
                                  split=split)
        loaded = [(dataset.get_data_info(i)['img'],
                   dataset.get_data_info(i)['gt_label'])
                  for i in range(len(dataset))]
        assert as_set(loaded) == as_set(written[split])


def test_converter_names_wrong_class_folders_and_sizes(tmp_path):
    classes = list(CheckedCIFAR10.METAINFO['classes'])
    write_tree(str(tmp_path / 'tree'), classes[:9] + ['plane'])
    with pytest.raises(ValueError, match=r"missing: \['truck'\]; "
                       r"unexpected: \['plane'\]"):
        folder_to_cifar.main([str(tmp_path / 'tree'), str(tmp_path / 'a')])
    write_tree(str(tmp_path / 'big'), classes, (('train', 1), ))
    big = osp.join(tmp_path, 'big', 'train', 'cat', '0.png')
    Image.new('RGB', (64, 64)).save(big)
    with pytest.raises(ValueError, match=f'{big} is 64x64'):
        folder_to_cifar.main([str(tmp_path / 'big'), str(tmp_path / 'b')])


@pytest.fixture
def no_download(monkeypatch):
    """Fail the test if mmpretrain's download helper is reached."""
    import mmpretrain.datasets.cifar as cifar

    def refuse(*args, **kwargs):
        raise AssertionError('a download was attempted')

    monkeypatch.setattr(cifar, 'download_and_extract_archive', refuse)


def test_missing_file_is_named(converted, tmp_path, no_download):
    data_root, folder = copy_of(converted, tmp_path)
    os.remove(osp.join(folder, 'data_batch_3'))
    with pytest.raises(FileNotFoundError,
                       match=osp.join(folder, 'data_batch_3') + ' not found'):
        CheckedCIFAR10(data_root=data_root, split='train')
    # The test split does not need the training batches.
    assert len(CheckedCIFAR10(data_root=data_root, split='test')) == 10
    with pytest.raises(FileNotFoundError, match='cifar-10-batches-py'):
        CheckedCIFAR10(data_root=str(tmp_path / 'empty'), split='test')


def test_mismatching_file_is_named_with_both_md5s(converted, tmp_path,
                                                  no_download):
    data_root, folder = copy_of(converted, tmp_path)
    path = osp.join(folder, 'data_batch_2')
    data = bytearray(open(path, 'rb').read())
    data[-10] ^= 1  # one flipped bit in the pixels
    open(path, 'wb').write(bytes(data))
    listed = dict(line.split()[::-1] for line in open(
        osp.join(folder, 'MD5SUMS')))['data_batch_2']
    with pytest.raises(ValueError) as info:
        CheckedCIFAR10(data_root=data_root, split='train')
    message = str(info.value)
    assert path in message and hashlib.md5(data).hexdigest() in message
    assert 'c99cafc152244af753f735de768cd75f' not in message  # batch 1's
    assert 'd4bba439e000b95fd0a9bffe97cbabec' in message  # official batch 2
    assert listed in message
    # mmpretrain's class says it cannot find the dataset and would download.
    with pytest.raises(RuntimeError, match='download=True'):
        CIFAR10(data_root=data_root, split='train', download=False)


def test_other_class_names_are_refused(converted, tmp_path):
    data_root, folder = copy_of(converted, tmp_path)
    names = list(CheckedCIFAR10.METAINFO['classes'])
    names[0] = 'plane'
    md5 = folder_to_cifar.write_pickle(osp.join(folder, 'batches.meta'),
                                       {'label_names': names})
    with open(osp.join(folder, 'MD5SUMS'), 'a') as f:
        f.write(f'{md5}  batches.meta\n')
    with pytest.raises(ValueError, match="lists classes \\['plane'"):
        CheckedCIFAR10(data_root=data_root, split='test')


class RunsCode:

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}', )


@pytest.mark.parametrize('content', ['code', 'object array'])
def test_crafted_batch_is_refused_without_running_code(
        converted, tmp_path, content):
    data_root, folder = copy_of(converted, tmp_path)
    marker = tmp_path / 'marker'
    payload = {'code': RunsCode(marker),
               'object array': np.array([None, 1], dtype=object)}[content]
    md5 = folder_to_cifar.write_pickle(
        osp.join(folder, 'test_batch'), {'data': payload, 'labels': [0]})
    with open(osp.join(folder, 'MD5SUMS'), 'a') as f:
        f.write(f'{md5}  test_batch\n')
    with pytest.raises(pickle.UnpicklingError, match='test_batch: refusing'):
        CheckedCIFAR10(data_root=data_root, split='test')
    assert not marker.exists()


def test_download_is_refused():
    with pytest.raises(ValueError, match='never downloads'):
        CheckedCIFAR10(data_root='data/cifar10', download=True)
