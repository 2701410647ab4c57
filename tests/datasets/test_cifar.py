"""CheckedCIFAR10/100 and tools/dataset_converters/folder_to_cifar.py: an
ImageFolder tree round-trips through the CIFAR python layout, Python 2
pickles (the official archives' format) read back; missing, mismatching,
malformed and crafted files are named, and nothing is downloaded."""
import hashlib
import os
import os.path as osp
import pickle
import sys

import numpy as np
import pytest
from mmpretrain.datasets import CIFAR10
from PIL import Image

from conftest import shell_payload
from dm_plugin.datasets import CheckedCIFAR10, CheckedCIFAR100
from dm_plugin.datasets.cifar import CIFAR_VARIANTS, write_pickle
from test_safe_pickle import Python2Pickler

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'tools', 'dataset_converters'))
import folder_to_cifar  # noqa: E402


def write_random_cifar(root, variant='cifar10', per_split=(('train', 7),
                                                          ('test', 3)),
                       seed=0):
    """Random images and labels in the python layout under ``root`` (as the
    converter writes them); returns ``{split: (images, labels)}``."""
    dataset_cls = CIFAR_VARIANTS[variant]
    rng = np.random.default_rng(seed)
    num_classes = len(dataset_cls.METAINFO['classes'])
    written = {
        split: (rng.integers(0, 256, (count, 32, 32, 3), dtype=np.uint8),
                rng.integers(0, num_classes, count))
        for split, count in per_split
    }
    dataset_cls.write_splits(
        str(root), {split: (*value, None)
                    for split, value in written.items()})
    return written


def rewrite(folder, name, content, pickler=None):
    """Replace ``folder/name`` by ``content`` and list its md5 in
    ``MD5SUMS``, as a converted copy would."""
    path = osp.join(folder, name)
    if pickler is None:
        md5 = write_pickle(path, content)
    else:
        with open(path, 'wb') as f:
            pickler(f, 2).dump(content)
        md5 = hashlib.md5(open(path, 'rb').read()).hexdigest()
    with open(osp.join(folder, 'MD5SUMS'), 'a') as f:
        f.write(f'{md5}  {name}\n')
    return path


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
    rewrite(folder, 'batches.meta', {'label_names': names})
    with pytest.raises(ValueError, match=r"lists classes \['plane'.*"
                       r"missing: \['airplane'\]; unexpected: \['plane'\]"):
        CheckedCIFAR10(data_root=data_root, split='test')
    rewrite(folder, 'batches.meta', {
        'label_names': list(CheckedCIFAR10.METAINFO['classes'])[::-1]})
    with pytest.raises(ValueError, match=r'\(another order\)'):
        CheckedCIFAR10(data_root=data_root, split='test')


@pytest.mark.parametrize('content, message', [
    ('code', r'refusing the global posix\.system'),
    ('object array', r"numpy dtype 'O8' \(object\) is refused"),
])
def test_crafted_batch_is_refused_without_running_code(
        converted, tmp_path, content, message):
    data_root, folder = copy_of(converted, tmp_path)
    marker = tmp_path / 'marker'
    payload = {'code': shell_payload(marker),
               'object array': np.array([None, 1], dtype=object)}[content]
    rewrite(folder, 'test_batch', {'data': payload, 'labels': [0]})
    with pytest.raises(pickle.UnpicklingError,
                       match=f'test_batch: {message}'):
        CheckedCIFAR10(data_root=data_root, split='test')
    assert not marker.exists()


def test_download_is_refused():
    with pytest.raises(ValueError, match='never downloads'):
        CheckedCIFAR10(data_root='data/cifar10', download=True)


@pytest.mark.parametrize('variant', ['cifar10', 'cifar100'])
def test_python2_archives_read_back(tmp_path, variant):
    """The official archives are Python 2 pickles (pixels as ``str``, names
    and keys too): rewritten so, every file reads back as written, in file
    order, with the dataset's label key (CIFAR-100: ``fine_labels``)."""
    dataset_cls = CIFAR_VARIANTS[variant]
    write_random_cifar(tmp_path, variant)
    folder = str(tmp_path / dataset_cls.base_folder)
    expected = {}
    for split in ('train', 'test'):
        *batches, meta = dataset_cls.split_files(str(tmp_path), split)
        images, labels = [], []
        for path in batches:
            with open(path, 'rb') as f:
                batch = pickle.load(f)
            batch = {key.encode(): value for key, value in batch.items()}
            batch[b'filenames'] = [b'x.png'] * len(batch[b'data'])
            rewrite(folder, osp.basename(path), batch, Python2Pickler)
            images.append(batch[b'data'].reshape(-1, 3, 32, 32).transpose(
                0, 2, 3, 1))
            labels += batch[dataset_cls.LABEL_KEY.encode()]
        expected[split] = np.concatenate(images), labels
    names = [name.encode() for name in dataset_cls.METAINFO['classes']]
    rewrite(folder, dataset_cls.meta['filename'],
            {dataset_cls.meta['key'].encode(): names}, Python2Pickler)
    with open(batches[0], 'rb') as f:
        assert pickle.BINSTRING in f.read()  # the pixels, as Python 2 wrote
    for split, (images, labels) in expected.items():
        dataset = dataset_cls(data_root=str(tmp_path), split=split)
        got = [dataset.get_data_info(i) for i in range(len(dataset))]
        np.testing.assert_array_equal(np.stack([g['img'] for g in got]),
                                      images)
        assert [g['gt_label'] for g in got] == labels
        assert dataset.metainfo['classes'] == dataset_cls.METAINFO['classes']


@pytest.mark.parametrize('batch, message', [
    ({'data': np.zeros((2, 10), np.uint8), 'labels': [0, 1]},
     r'"data" must be a \(N, 3072\) uint8 array, got \(2, 10\)'),
    ({'data': np.zeros((2, 3072), np.float32), 'labels': [0, 1]},
     r'"data" must be a \(N, 3072\) uint8 array'),
    ({'data': np.zeros((2, 3072), np.uint8), 'labels': [0, 10]},
     r"'labels' must be 2 class indices in \[0, 10\)"),
    ({'data': np.zeros((2, 3072), np.uint8), 'labels': [0]},
     r"'labels' must be 2 class indices"),
    ([1, 2], 'holds a list, not a CIFAR dict'),
])
def test_malformed_batch_is_named(tmp_path, batch, message):
    write_random_cifar(tmp_path)
    folder = str(tmp_path / 'cifar-10-batches-py')
    path = rewrite(folder, 'test_batch', batch)
    with pytest.raises(ValueError, match=f'CIFAR-10: {path}:? {message}'):
        CheckedCIFAR10(data_root=str(tmp_path), split='test')


def test_truncated_batch_is_named(tmp_path):
    write_random_cifar(tmp_path)
    folder = str(tmp_path / 'cifar-10-batches-py')
    path = osp.join(folder, 'data_batch_3')
    data = open(path, 'rb').read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])
    with open(osp.join(folder, 'MD5SUMS'), 'a') as f:
        f.write(f'{hashlib.md5(data[:len(data) // 2]).hexdigest()}  '
                'data_batch_3\n')
    with pytest.raises(ValueError,
                       match=f'{path} is not a readable pickle'):
        CheckedCIFAR10(data_root=str(tmp_path), split='train')


def test_writer_checks_its_input(tmp_path):
    images = np.zeros((2, 32, 32, 3), np.uint8)
    with pytest.raises(ValueError, match=r'images must be \(N, 32, 32, 3\)'):
        CheckedCIFAR10.write_splits(
            str(tmp_path), {'train': (images[..., 0], [0, 1], None)})
    with pytest.raises(ValueError, match='labels must index its 10 classes'):
        CheckedCIFAR10.write_splits(str(tmp_path),
                                    {'train': (images, [0, 10], None)})
    with pytest.raises(ValueError, match="unknown split 'val'"):
        CheckedCIFAR10.write_splits(str(tmp_path),
                                    {'val': (images, [0, 1], None)})
