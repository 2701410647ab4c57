"""Read the CIFAR-10/100 python archives without running code from them.

The archives (Krizhevsky, "Learning Multiple Layers of Features from Tiny
Images", 2009) are pickles: a dict per batch file with the images as one
(N, 3072) uint8 array. ``pickle.load`` would run whatever a crafted file asks
for; here only what such a file holds is rebuilt: dicts, lists, strings,
numbers and numpy arrays or scalars of plain (non-object) dtypes. Anything
else raises :class:`UnsafePickleError` naming the file and the global.
"""
import codecs
import os.path as osp
import pickle
from typing import List, Tuple

import numpy as np

from dm_plugin.validation import check_choice

# variant: (folder, {split: batch files}, meta file, label key, names key)
LAYOUTS = {
    'cifar10': ('cifar-10-batches-py', {
        'train': [f'data_batch_{i}' for i in range(1, 6)],
        'test': ['test_batch'],
    }, 'batches.meta', 'labels', 'label_names'),
    'cifar100': ('cifar-100-python', {
        'train': ['train'],
        'test': ['test'],
    }, 'meta', 'fine_labels', 'fine_label_names'),
}
IMAGE_SHAPE = (3, 32, 32)


class UnsafePickleError(pickle.UnpicklingError, ValueError):
    """A pickle asks for something a CIFAR archive does not hold."""


class _NdarrayType:
    """Stands for ``numpy.ndarray`` in the pickle: ``_reconstruct`` accepts
    it as its subtype; calling it (an array on raw memory) is refused."""

    def __new__(cls, *args, **kwargs):
        raise UnsafePickleError('numpy.ndarray(...) refused')


def _plain_dtype(*args, **kwargs) -> np.dtype:
    dtype = np.dtype(*args, **kwargs)
    if dtype.hasobject:
        raise UnsafePickleError(f'object dtype {dtype} refused')
    return dtype


def _checked(dtype) -> np.dtype:
    if not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise UnsafePickleError(f'array dtype {dtype!r} refused')
    return dtype


def _reconstruct(subtype, shape, typecode) -> np.ndarray:
    """``numpy.core.multiarray._reconstruct``: an empty array that BUILD
    then fills (with a checked dtype)."""
    if subtype is not _NdarrayType:
        raise UnsafePickleError(f'array subtype {subtype!r} refused')
    return np.empty(0, np.uint8)


def _frombuffer(buffer, dtype, shape, order) -> np.ndarray:
    """``numpy.core.numeric._frombuffer`` (pickle protocol 5)."""
    array = np.frombuffer(bytearray(buffer), dtype=_checked(dtype))
    return array.reshape(shape, order=order)


def _scalar(dtype, data):
    """``numpy.core.multiarray.scalar``: one value from its bytes."""
    if isinstance(data, str):
        data = data.encode('latin1')
    if not isinstance(data, bytes):
        raise UnsafePickleError(f'scalar data of type {type(data)} refused')
    return np.frombuffer(data, dtype=_checked(dtype))[0]


def _encode(text, encoding='utf-8') -> bytes:
    """``_codecs.encode``, which protocol 2 uses to store bytes."""
    if not isinstance(text, str) or codecs.lookup(encoding).name not in (
            'latin-1', 'iso8859-1', 'utf-8'):
        raise UnsafePickleError(f'_codecs.encode({text!r:.20}, {encoding!r}) '
                                'refused')
    return text.encode(encoding)


ALLOWED = {}
for _module in ('numpy.core.multiarray', 'numpy._core.multiarray'):
    ALLOWED[_module, '_reconstruct'] = _reconstruct
    ALLOWED[_module, 'scalar'] = _scalar
for _module in ('numpy.core.numeric', 'numpy._core.numeric'):
    ALLOWED[_module, '_frombuffer'] = _frombuffer
ALLOWED['numpy', 'ndarray'] = _NdarrayType
ALLOWED['numpy', 'dtype'] = _plain_dtype
ALLOWED['_codecs', 'encode'] = _encode


class _RestrictedUnpickler(pickle._Unpickler):
    """The pure-Python unpickler with an allow-list of globals and a BUILD
    step that only fills arrays and dtypes, with non-object dtypes."""

    dispatch = dict(pickle._Unpickler.dispatch)

    def find_class(self, module: str, name: str):
        try:
            return ALLOWED[module, name]
        except KeyError:
            raise UnsafePickleError(
                f'refusing to load the global {module}.{name}') from None

    def load_build(self):
        state, inst = self.stack[-1], self.stack[-2]
        if isinstance(inst, np.ndarray):
            if not isinstance(state, tuple) or len(state) not in (4, 5):
                raise UnsafePickleError('malformed array state')
            _checked(state[-3])
        elif not isinstance(inst, np.dtype):
            raise UnsafePickleError(
                f'refusing to set the state of a {type(inst).__name__}')
        pickle._Unpickler.load_build(self)
        if isinstance(inst, np.dtype):
            _checked(inst)

    dispatch[pickle.BUILD[0]] = load_build


def load_pickle(path: str):
    """Unpickle ``path`` (python 2 archives too, as latin-1) with the
    allow-list; dict keys that are bytes become strings."""
    try:
        with open(path, 'rb') as f:
            data = _RestrictedUnpickler(f, encoding='latin1').load()
    except UnsafePickleError as error:
        raise UnsafePickleError(f'{path}: {error}') from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError,
            IndexError, KeyError) as error:
        raise ValueError(f'{path}: not a readable CIFAR pickle '
                         f'({type(error).__name__}: {error})') from None
    if not isinstance(data, dict):
        raise ValueError(f'{path}: expected a dict, got '
                         f'{type(data).__name__}')
    return {
        key.decode('latin1') if isinstance(key, bytes) else key: value
        for key, value in data.items()
    }


def cifar_files(data_root: str, variant: str, split: str) -> List[str]:
    """Paths of the batch files of ``split``, then the meta file; raises
    ``FileNotFoundError`` naming the first missing one."""
    check_choice('variant', variant, tuple(LAYOUTS))
    folder, splits, meta, _, _ = LAYOUTS[variant]
    check_choice('split', split, tuple(splits))
    paths = [osp.join(data_root, folder, name)
             for name in splits[split] + [meta]]
    for path in paths:
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'{variant}: {path} not found; data_root must hold the '
                f'extracted python archive ({folder}/)')
    return paths


def read_cifar(data_root: str, variant: str,
               split: str) -> Tuple[np.ndarray, np.ndarray, Tuple[str]]:
    """Images (N, 32, 32, 3) uint8 RGB, labels (N,) int64 and class names of
    a CIFAR split. md5 sums are not checked (converted copies are welcome);
    shapes, dtypes and label ranges are."""
    *batches, meta_path = cifar_files(data_root, variant, split)
    _, _, _, label_key, names_key = LAYOUTS[variant]
    names = load_pickle(meta_path).get(names_key)
    if not isinstance(names, list) or not names or not all(
            isinstance(n, (str, bytes)) for n in names):
        raise ValueError(f'{meta_path}: expected a list of class names '
                         f'under {names_key!r}')
    classes = tuple(n.decode('latin1') if isinstance(n, bytes) else n
                    for n in names)
    images, labels = [], []
    for path in batches:
        batch = load_pickle(path)
        data, batch_labels = batch.get('data'), batch.get(label_key)
        if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or \
                data.ndim != 2 or data.shape[1] != np.prod(IMAGE_SHAPE):
            raise ValueError(
                f'{path}: "data" must be a (N, 3072) uint8 array, got '
                f'{getattr(data, "shape", type(data).__name__)} '
                f'{getattr(data, "dtype", "")}')
        batch_labels = np.asarray(batch_labels)
        if batch_labels.shape != (len(data), ) or not np.issubdtype(
                batch_labels.dtype, np.integer):
            raise ValueError(f'{path}: {label_key!r} must hold one integer '
                             f'label per image ({len(data)})')
        if len(batch_labels) and (batch_labels.min() < 0 or
                                  batch_labels.max() >= len(classes)):
            raise ValueError(f'{path}: labels outside [0, {len(classes)}) '
                             f'(the classes of {meta_path})')
        images.append(data.reshape(-1, *IMAGE_SHAPE).transpose(0, 2, 3, 1))
        labels.append(batch_labels.astype(np.int64))
    return (np.ascontiguousarray(np.concatenate(images)),
            np.concatenate(labels), classes)
