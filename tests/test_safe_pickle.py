"""dm_plugin.safe_pickle's plain-pickle unpickler: numpy data of every
pickle protocol (and Python 2's, as the official CIFAR archives hold it)
comes back equal; globals that run code, object arrays, arrays over raw
memory and state set on anything but its records are refused, and nothing
from the file runs."""
import io
import pickle
import struct

import numpy as np
import pytest

from conftest import Payload, shell_payload
from dm_plugin.safe_pickle import (UnsafePickleError, load_pickle,
                                   refuse_ndarray_call)


class Python2Pickler(pickle._Pickler):
    """Writes ``bytes`` as Python 2 wrote ``str`` (SHORT_BINSTRING /
    BINSTRING), as in the official CIFAR archives; read back with the
    ``latin1`` encoding they are text."""

    dispatch = dict(pickle._Pickler.dispatch)

    def save_python2_str(self, obj):
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack('<i', len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_python2_str


def dumps(obj, protocol):
    if protocol == 'python2':
        buffer = io.BytesIO()
        Python2Pickler(buffer, 2).dump(obj)
        return buffer.getvalue()
    return pickle.dumps(obj, protocol=protocol)


def numpy_values():
    shared = np.arange(6, dtype='>i4').reshape(2, 3)
    return dict(
        pixels=np.arange(2 * 3072, dtype=np.uint8).reshape(2, 3072),
        fortran=np.asfortranarray(np.arange(6.).reshape(2, 3)),
        empty=np.zeros(0, np.float32), flags=np.array([True, False]),
        complex=np.array([1 + 2j], np.complex64), shared=[shared, shared],
        scalars=[np.float16(0.5), np.int64(-3)],
        dtypes=[np.dtype('<f8'), np.dtype('>u2')],
        labels=[0, 3, 1], names=['cat', 'dog'])


def assert_same(got, want):
    assert type(got) is type(want), (got, want)
    if isinstance(want, dict):
        assert got.keys() == want.keys()
        for key in want:
            assert_same(got[key], want[key])
    elif isinstance(want, list):
        assert len(got) == len(want)
        for a, b in zip(got, want):
            assert_same(a, b)
    elif isinstance(want, np.ndarray):
        assert got.dtype == want.dtype and got.shape == want.shape
        assert got.flags.f_contiguous == want.flags.f_contiguous
        np.testing.assert_array_equal(got, want)
    elif isinstance(want, np.dtype):
        assert got == want and got.byteorder == want.byteorder
    else:
        assert got == want


@pytest.mark.parametrize('protocol', ['python2', 2, 3, 4, 5])
def test_numpy_data_round_trips(protocol):
    values = numpy_values()
    loaded = load_pickle(dumps(values, protocol), 'batch')
    assert_same(loaded, values)
    shared = loaded['shared']
    assert shared[0] is shared[1]  # one array, as in the file
    assert shared[0].flags.writeable


def test_python2_pickles_hold_text_where_python3_bytes():
    """What makes the official archives unreadable by torch's weights-only
    unpickler: the pixels are a BINSTRING."""
    data = dumps(numpy_values(), 'python2')
    assert pickle.BINSTRING in data and b'_codecs' not in data


def test_bytes_keys_become_text():
    loaded = load_pickle(pickle.dumps({b'data': 1, 'labels': 2}, 2), 'meta')
    assert loaded == {'data': 1, 'labels': 2}


def test_code_is_refused_and_does_not_run(tmp_path):
    marker = tmp_path / 'pwned'
    data = pickle.dumps({'data': shell_payload(marker)}, 2)
    with pytest.raises(UnsafePickleError,
                       match=r'evil: refusing the global posix\.system'):
        load_pickle(data, 'evil')
    assert not marker.exists()
    pickle.loads(data)  # the payload is real
    assert marker.exists()


@pytest.mark.parametrize('payload, message', [
    (np.array([None, 1], dtype=object), r"numpy dtype 'O8' \(object\)"),
    (np.zeros(1, [('a', 'O')]), 'numpy dtype'),
    (Payload(np.ndarray, (1, ), np.dtype('O'), b'AAAAAAAA'), 'numpy dtype'),
    (Payload(np.ndarray, (1, ), np.dtype('u8'), b'AAAAAAAA'),
     r'calls numpy\.ndarray\(\.\.\.\) directly'),
    (Payload(bytes, 10**9), r'bytes\(1000000000,\) is refused'),
])
def test_arrays_over_raw_memory_are_refused(payload, message):
    for protocol in (2, 5):
        with pytest.raises(UnsafePickleError, match=f'batch: .*{message}'):
            load_pickle(pickle.dumps({'data': payload}, protocol), 'batch')


def test_state_is_set_on_records_only():
    """The standard ``BUILD`` would write into the stand-in function's
    ``__dict__`` (and ``setattr`` its slot state)."""
    data = (b'\x80\x02cnumpy\nndarray\n}X\x01\x00\x00\x00aK\x01sb.')
    with pytest.raises(UnsafePickleError,
                       match='refusing to set the state of a function'):
        load_pickle(data, 'batch')
    assert not hasattr(refuse_ndarray_call, 'a')
    try:  # what the same global would suffer from the standard BUILD
        Unrestricted(io.BytesIO(data)).load()
        assert refuse_ndarray_call.a == 1
    finally:
        vars(refuse_ndarray_call).pop('a', None)


class Unrestricted(pickle._Unpickler):

    def find_class(self, module, name):
        return refuse_ndarray_call


def test_only_latin1_text_encodes_to_bytes():
    data = pickle.dumps(b'\xff', 2).replace(b'latin1', b'rot_13')
    with pytest.raises(UnsafePickleError, match='_codecs.encode'):
        load_pickle(data, 'batch')


def test_damaged_pickle_is_named():
    data = pickle.dumps({'data': np.zeros(10, np.uint8)}, 4)
    for cut in (data[:len(data) // 2], b'not a pickle'):
        with pytest.raises(ValueError, match='batch is not a readable pickle'):
            load_pickle(cut, 'batch')
