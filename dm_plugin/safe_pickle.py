"""Unpickle files from elsewhere (checkpoints, dataset archives) without
running code from them.

A pickle names the callables that rebuild its objects, and ``pickle.load``
calls whatever it names. Here every name that numpy's own pickles use is
answered by a checked stand-in (:func:`numpy_globals`) and any other name is
refused with an :class:`UnsafePickleError` naming the file and the global:

* ``numpy.dtype``: only booleans, integers, floats and complex numbers;
  object, structured, string and datetime dtypes are refused (an object
  array over raw bytes is a pointer the file chose);
* ``numpy.core.multiarray._reconstruct`` + ``BUILD``, numpy's pickle of an
  array: the state is checked (shape, dtype, exactly as many bytes as the
  shape needs) and the array built from a copy of the bytes; calling
  ``numpy.ndarray(...)`` directly is refused;
* ``numpy.core.multiarray.scalar``: a scalar of such a dtype;
* ``builtins.bytes``: only ``bytes()``, how protocol 2 writes ``b''`` (the
  data of an empty array).

numpy's names are allowed both as numpy 1.x (``numpy.core``) and 2.x
(``numpy._core``) write them. The stand-ins leave :class:`Record` objects in
place of arrays and dtypes; :func:`materialize` replaces them once the whole
file is read.

Two unpicklers use the same stand-ins:

* checkpoints (:mod:`dm_plugin.engine.checkpoint`):
  ``torch.load(weights_only=True)``, with these (and mmengine's
  ``HistoryBuffer``) as its only allowed globals. Only torch's unpickler
  reads ``torch.save``'s archives and tensor storages.
* plain pickles (the CIFAR python archives; with a few torch globals more,
  the predictions ``tools/plot_reliability.py`` reads): :func:`load_pickle`,
  the standard library's pure-Python unpickler restricted to the stand-ins
  plus what plain pickles need besides (:data:`PLAIN_PICKLE_GLOBALS`). torch's
  unpickler cannot read those files: it knows protocol 2's opcodes only,
  without ``BINSTRING`` (Python 2's ``str``, which holds the pixels of the
  official CIFAR archives) or protocols 3-5's bytes and frames, and it has
  no public entry point for a file that is not a ``torch.save`` archive.
"""
import _compat_pickle
import io
import pickle
import sys
from collections import OrderedDict

import numpy as np

# bool, signed and unsigned integers, floats, complex numbers
NUMERIC_KINDS = 'biufc'
NON_NATIVE_ORDER = '>' if sys.byteorder == 'little' else '<'
NUMPY_CORE = ('numpy.core', 'numpy._core')


class UnsafePickleError(pickle.UnpicklingError, ValueError):
    """A pickle asks for an object that safe loading refuses."""


class Record:
    """What a stand-in leaves in place of a value until :func:`materialize`
    replaces it by :meth:`value`. Unhashable, so that a file cannot hide one
    in a set or a dict key, where the walk does not look."""

    __hash__ = None

    def value(self):
        raise NotImplementedError


class CheckedDtype(Record):
    """``numpy.dtype(code, align, copy)``, then ``BUILD`` with its byte
    order; refuses all but numeric dtypes."""

    dtype = None  # a record made without __init__ (NEWOBJ) stays empty

    def __init__(self, code, align=False, copy=True):
        try:
            dtype = np.dtype(code) if isinstance(code, str) else None
        except TypeError:
            dtype = None
        if dtype is None or dtype.kind not in NUMERIC_KINDS:
            name = f' ({dtype.name})' if dtype is not None else ''
            raise UnsafePickleError(
                f'numpy dtype {code!r}{name} is refused: only bool, integer, '
                'float and complex arrays can be loaded (an object or '
                'structured dtype over raw bytes would let the file choose '
                'memory addresses)')
        self.dtype = dtype

    def __setstate__(self, state):
        if not (isinstance(state, tuple) and len(state) in (8, 9)
                and state[0] in (3, 4) and state[1] in ('<', '>', '|', '=')
                and state[2:5] == (None, None, None)):
            raise UnsafePickleError(f'unexpected numpy dtype state {state!r}')
        if state[1] == NON_NATIVE_ORDER:
            self.dtype = self.value().newbyteorder(state[1])

    def value(self) -> np.dtype:
        if self.dtype is None:
            raise UnsafePickleError('a numpy dtype without its code')
        return self.dtype


def as_bytes(data):
    """Array or scalar data: ``bytes``, or a Python 2 ``str`` that the
    ``latin1`` encoding turned into text (numpy reads it back so too)."""
    return data.encode('latin1') if isinstance(data, str) else data


def checked_array(shape, dtype, data, fortran: bool) -> np.ndarray:
    """A numeric array of ``shape`` from a copy of exactly its bytes."""
    if not (isinstance(shape, tuple)
            and all(type(n) is int and n >= 0 for n in shape)):
        raise UnsafePickleError(f'bad numpy array shape {shape!r:.200}')
    if not isinstance(dtype, CheckedDtype):
        raise UnsafePickleError(
            f'a numpy array needs a numpy dtype, got {dtype!r:.200}')
    dtype = dtype.value()
    size = int(np.prod(shape, dtype=object)) * dtype.itemsize
    data = as_bytes(data)
    if not isinstance(data, (bytes, bytearray)) or len(data) != size:
        raise UnsafePickleError(
            f'a numpy array of shape {shape} and dtype {dtype} needs {size} '
            'bytes of data')
    return np.frombuffer(data, dtype).reshape(
        shape, order='F' if fortran else 'C').copy(order='K')


class CheckedArray(Record):
    """``_reconstruct(ndarray, ...)`` then ``BUILD``: numpy's pickle of an
    array, built from a checked state."""

    array = None

    def __setstate__(self, state):
        if not (isinstance(state, tuple) and len(state) == 5):
            raise UnsafePickleError(
                f'unexpected numpy array state {state!r:.200}')
        _, shape, dtype, fortran, data = state
        self.array = checked_array(shape, dtype, data, fortran)

    def value(self) -> np.ndarray:
        if self.array is None:
            raise UnsafePickleError('a numpy array without its data')
        return self.array


def empty_bytes(*args):
    """``bytes()``: how pickle protocol 2 writes ``b''`` (the data of an
    empty array); ``bytes(n)`` would let the file allocate n bytes."""
    if args:
        raise UnsafePickleError(f'bytes{args!r:.100} is refused')
    return b''


def refuse_ndarray_call(*args, **kwargs):
    """``numpy.ndarray``: only as ``_reconstruct``'s argument."""
    raise UnsafePickleError(
        'the file calls numpy.ndarray(...) directly, which builds an array '
        'over raw memory; numpy itself never pickles arrays that way')


def reconstruct_array(cls, shape, typecode):
    """``numpy.core.multiarray._reconstruct``; the ``BUILD`` that follows
    gives the array."""
    if cls is not refuse_ndarray_call:
        raise UnsafePickleError(
            f'numpy _reconstruct of {cls!r:.100}: only numpy.ndarray is '
            'allowed')
    return CheckedArray()


def numpy_scalar(dtype, data):
    """``numpy.core.multiarray.scalar``."""
    data = as_bytes(data)
    if not isinstance(dtype, CheckedDtype) or not isinstance(
            data, bytes) or len(data) != dtype.value().itemsize:
        raise UnsafePickleError(
            f'bad numpy scalar ({dtype!r:.100}, {data!r:.100})')
    return np.frombuffer(data, dtype.value())[0]


def numpy_globals() -> list:
    """``(stand-in, pickled name)`` pairs: the globals numpy's pickles of
    arrays, dtypes and scalars use (see the module docstring)."""
    pairs = [(empty_bytes, 'builtins.bytes'),
             (refuse_ndarray_call, 'numpy.ndarray'),
             (CheckedDtype, 'numpy.dtype'),
             (CheckedArray, f'{__name__}.CheckedArray')]
    for core in NUMPY_CORE:
        pairs += [(reconstruct_array, f'{core}.multiarray._reconstruct'),
                  (numpy_scalar, f'{core}.multiarray.scalar')]
    return pairs


def materialize(obj, seen: dict):
    """Replace the records left in containers by their values. ``seen`` maps
    the ``id`` of each container walked to the container and what replaces
    it (holding both, so that no id is reused meanwhile)."""
    if isinstance(obj, Record):
        return obj.value()
    if id(obj) in seen:
        return seen[id(obj)][1]
    if not isinstance(obj, (dict, list, tuple)):
        return obj
    seen[id(obj)] = (obj, obj)
    if isinstance(obj, tuple):
        items = [materialize(item, seen) for item in obj]
        if type(obj) is tuple and any(
                new is not old for new, old in zip(items, obj)):
            seen[id(obj)] = (obj, tuple(items))
        return seen[id(obj)][1]
    entries = obj.items() if isinstance(obj, dict) else enumerate(obj)
    for key, value in list(entries):
        obj[key] = materialize(value, seen)
    if isinstance(obj, OrderedDict):  # a state dict's _metadata
        materialize(vars(obj), seen)
    return obj


def array_from_buffer(buffer, dtype, shape, order):
    """``numpy.core.numeric._frombuffer``: protocol 5's pickle of an array
    (the data in-band)."""
    if order not in ('C', 'F'):
        raise UnsafePickleError(f'bad numpy array order {order!r:.20}')
    return checked_array(shape, dtype, buffer, order == 'F')


def latin1_encode(text, encoding='latin1'):
    """``_codecs.encode(text, 'latin1')``: how protocol 2 writes ``bytes``;
    other codecs are refused."""
    if not isinstance(text, str) or encoding != 'latin1':
        raise UnsafePickleError(
            f'_codecs.encode({text!r:.20}, {encoding!r:.20}) is refused')
    return text.encode(encoding)


# torch's weights-only unpickler has its own _codecs.encode and reads no
# protocol 5, so these two are for plain pickles only.
PLAIN_PICKLE_GLOBALS = dict(
    [(name, stand_in) for stand_in, name in numpy_globals()] +
    [(f'{core}.numeric._frombuffer', array_from_buffer)
     for core in NUMPY_CORE] + [('_codecs.encode', latin1_encode)])


class RestrictedUnpickler(pickle._Unpickler):
    """The standard library's pure-Python unpickler, with ``allowed``
    (``{'module.name': stand-in}``) as its only globals and ``BUILD`` only on
    the records they return (the C unpickler's ``BUILD`` cannot be
    restricted). Python 2 pickles are read with the ``latin1`` encoding."""

    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, file, allowed: dict):
        super().__init__(file, encoding='latin1')
        self.allowed = allowed

    def find_class(self, module: str, name: str):
        if self.proto < 3:  # Python 2 names, as the standard library maps
            module, name = _compat_pickle.NAME_MAPPING.get(
                (module, name),
                (_compat_pickle.IMPORT_MAPPING.get(module, module), name))
        try:
            return self.allowed[f'{module}.{name}']
        except KeyError:
            raise UnsafePickleError(
                f'refusing the global {module}.{name}') from None

    def load_build(self):
        state = self.stack.pop()
        record = self.stack[-1]
        if not isinstance(record, Record):
            raise UnsafePickleError(
                f'refusing to set the state of a {type(record).__name__}')
        record.__setstate__(state)

    dispatch[pickle.BUILD[0]] = load_build


def load_pickle(data: bytes, name: str, allowed: dict = None):
    """Unpickle ``data`` (the content of the file ``name``) with
    :class:`RestrictedUnpickler`, allowing ``allowed`` (by default
    :data:`PLAIN_PICKLE_GLOBALS`); dict keys that are ``bytes`` (a Python 3
    writer's) become text.

    Raises:
        UnsafePickleError: naming ``name`` and what the file asks for;
            nothing from it has run.
        ValueError: naming ``name``, which is damaged or not a pickle.
    """
    try:
        content = RestrictedUnpickler(
            io.BytesIO(data), allowed or PLAIN_PICKLE_GLOBALS).load()
        content = materialize(content, {})
    except UnsafePickleError as error:
        raise UnsafePickleError(f'{name}: {error}') from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError,
            AttributeError, IndexError, KeyError, MemoryError,
            RuntimeError) as error:
        raise ValueError(f'{name} is not a readable pickle '
                         f'({type(error).__name__}: {error})') from None
    if isinstance(content, dict):
        content = {key.decode('latin1') if isinstance(key, bytes) else key:
                   value for key, value in content.items()}
    return content
