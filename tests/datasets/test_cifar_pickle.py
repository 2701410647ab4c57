"""Reading CIFAR python archives: contents, formats, and refusing pickles
that would run code or build object arrays."""
import os
import pickle

import numpy as np
import pytest

from dm_plugin.datasets.cifar_pickle import (LAYOUTS, UnsafePickleError,
                                             load_pickle, read_cifar)

CLASSES = ['cat', 'dog', 'emu']


def write_cifar(root, variant='cifar10', protocol=2, per_batch=4,
                bytes_keys=True, seed=0):
    """A cifar-10-batches-py/ (or cifar-100-python/) tree of random images,
    as the official archives lay it out; returns (train images (N, 32, 32,
    3), train labels)."""
    folder, splits, meta, label_key, names_key = LAYOUTS[variant]
    rng = np.random.default_rng(seed)
    (root / folder).mkdir(parents=True)

    def dump(name, entry):
        with open(root / folder / name, 'wb') as f:
            pickle.dump({k.encode() if bytes_keys else k: v
                         for k, v in entry.items()}, f, protocol=protocol)

    images, labels = [], []
    for name in splits['train'] + splits['test']:
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        batch_labels = rng.integers(0, len(CLASSES), per_batch).tolist()
        dump(name, {'data': data, label_key: batch_labels,
                    'filenames': [b'x.png'] * per_batch})
        if name in splits['train']:
            images.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
            labels += batch_labels
    dump(meta, {names_key: CLASSES})
    return np.concatenate(images), np.array(labels)


def write_cifar10(root, protocol=2, bytes_keys=True):
    return write_cifar(root, 'cifar10', protocol, bytes_keys=bytes_keys)


@pytest.mark.parametrize('protocol,bytes_keys', [(2, True), (4, False),
                                                 (5, True)])
def test_reads_images_labels_and_classes(tmp_path, protocol, bytes_keys):
    images, labels = write_cifar10(tmp_path, protocol, bytes_keys=bytes_keys)
    read_images, read_labels, classes = read_cifar(str(tmp_path), 'cifar10',
                                                   'train')
    np.testing.assert_array_equal(read_images, images)
    np.testing.assert_array_equal(read_labels, labels)
    assert read_images.shape == (20, 32, 32, 3)
    assert read_labels.dtype == np.int64 and classes == tuple(CLASSES)
    assert len(read_cifar(str(tmp_path), 'cifar10', 'test')[0]) == 4


def test_reads_cifar100_fine_labels(tmp_path):
    images, labels = write_cifar(tmp_path, 'cifar100')
    read_images, read_labels, classes = read_cifar(str(tmp_path), 'cifar100',
                                                   'train')
    np.testing.assert_array_equal(read_images, images)
    np.testing.assert_array_equal(read_labels, labels)
    assert classes == tuple(CLASSES) and len(read_images) == 4


class RunsCode:

    def __reduce__(self):
        return os.system, ('echo pwned > /dev/null', )


def test_a_pickle_that_runs_code_is_refused(tmp_path):
    path = tmp_path / 'evil'
    path.write_bytes(pickle.dumps({'data': RunsCode()}))
    with pytest.raises(UnsafePickleError, match=r'evil.*posix\.system'):
        load_pickle(str(path))


class ArrayOnRawBytes:
    """numpy.ndarray(shape, dtype, buffer): with an object dtype, the bytes
    would be read as object pointers."""

    def __init__(self, dtype):
        self.dtype = dtype

    def __reduce__(self):
        return np.ndarray, ((1, ), np.dtype(self.dtype), b'AAAAAAAA')


def test_object_arrays_and_arrays_on_raw_bytes_are_refused(tmp_path):
    path = tmp_path / 'objects'
    path.write_bytes(pickle.dumps({'data': np.array([1, 'a'], object)}))
    with pytest.raises(UnsafePickleError, match='object dtype'):
        load_pickle(str(path))
    for dtype in ('O', 'u8'):
        path.write_bytes(pickle.dumps({'data': ArrayOnRawBytes(dtype)}))
        with pytest.raises(UnsafePickleError, match='refused'):
            load_pickle(str(path))


def test_errors_name_the_file(tmp_path):
    write_cifar10(tmp_path)
    folder = tmp_path / 'cifar-10-batches-py'
    with pytest.raises(ValueError, match='unknown split'):
        read_cifar(str(tmp_path), 'cifar10', 'val')
    with pytest.raises(FileNotFoundError, match='cifar-100-python/train'):
        read_cifar(str(tmp_path), 'cifar100', 'train')
    with open(folder / 'test_batch', 'wb') as f:
        pickle.dump({'data': np.zeros((2, 10), np.uint8), 'labels': [0, 1]},
                    f)
    with pytest.raises(ValueError, match=r'test_batch: "data" must be'):
        read_cifar(str(tmp_path), 'cifar10', 'test')
    with open(folder / 'test_batch', 'wb') as f:
        pickle.dump({'data': np.zeros((2, 3072), np.uint8),
                     'labels': [0, 3]}, f)
    with pytest.raises(ValueError, match=r'test_batch: labels outside'):
        read_cifar(str(tmp_path), 'cifar10', 'test')
    (folder / 'data_batch_3').write_bytes(b'\x80\x02truncated')
    with pytest.raises(ValueError, match='data_batch_3: not a readable'):
        read_cifar(str(tmp_path), 'cifar10', 'train')
