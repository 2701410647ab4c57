"""Load every checkpoint so that a file from elsewhere never runs code.

mmengine opens checkpoints through :class:`CheckpointLoader`, one loader per
scheme: local paths (``--resume``, ``load_from``, ``tools/test.py``,
``init_cfg=dict(type='Pretrained')``), ``http(s)://``, ``torchvision://``
(and ``modelzoo://``), ``open-mmlab://`` (``openmmlab://``), ``mmcls://``,
``pavi://`` and ``s3://`` / ``petrel://``. Its URL loaders end in
``torch.hub.load_state_dict_from_url``, whose default is
``weights_only=False``: a file in the hub cache could run anything.
:func:`register_safe_loaders` replaces every scheme; each fetches the file as
mmengine does (same hub cache, same download) and loads it with
:func:`load_checkpoint_file`.

:func:`load_checkpoint_file` runs ``torch.load(weights_only=True)`` with
exactly the globals an mmengine checkpoint needs, each replaced by a checked
stand-in (:data:`CHECKPOINT_GLOBALS`), and nothing else allowed:

* ``numpy.dtype``: only booleans, integers, floats and complex numbers;
  object, structured, string and datetime dtypes are refused (an object
  array over raw bytes is a pointer the file chose);
* ``numpy.core.multiarray._reconstruct`` + ``BUILD``, numpy's own pickle of
  an array: the state is checked (shape, dtype, exactly as many bytes as
  the shape needs) and the array built from a copy of the bytes; calling
  ``numpy.ndarray(...)`` directly is refused;
* ``numpy.core.multiarray.scalar``: a scalar of such a dtype;
* ``HistoryBuffer`` (the message hub's logs): restored from a checked state
  (``max_length``, two equally long 1-D numeric arrays, the statistics
  methods by their own names) without running its ``__setstate__``, which
  would write the file's methods into the class-level
  ``_statistics_methods``;
* ``builtins.getattr``: resolves only ``HistoryBuffer``'s ``min``, ``max``,
  ``current`` and ``mean`` (how pickle names those methods);
* ``builtins.bytes``: only ``bytes()``, how pickle writes the empty data of
  an empty array.

numpy's names are allowed both as numpy 1.x (``numpy.core``) and 2.x
(``numpy._core``) write them. A file that asks for anything else is refused
with an :class:`UnsafeCheckpointError` naming the file and the reason.
"""
import io
import os
import os.path as osp
import pickle
import re
import sys
from collections import OrderedDict
from contextlib import contextmanager
from tempfile import TemporaryDirectory
from urllib.parse import urlparse

import numpy as np
import torch
from mmengine.dist import get_dist_info
from mmengine.fileio import get_file_backend
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import (CheckpointLoader,
                                        _get_mmengine_home,
                                        _process_mmcls_checkpoint,
                                        get_deprecated_model_names,
                                        get_external_models,
                                        get_mmcls_models,
                                        get_torchvision_models,
                                        load_state_dict)

# HistoryBuffer fills _statistics_methods with these on first instantiation.
HISTORY_BUFFER_STATISTICS = ('min', 'max', 'current', 'mean')
HISTORY_BUFFER_KEYS = ('max_length', '_log_history', '_count_history')
# bool, signed and unsigned integers, floats, complex numbers
NUMERIC_KINDS = 'biufc'
NON_NATIVE_ORDER = '>' if sys.byteorder == 'little' else '<'


class UnsafeCheckpointError(pickle.UnpicklingError, ValueError):
    """A checkpoint asks for an object that weights-only loading refuses."""


class CorruptCheckpointError(RuntimeError):
    """A checkpoint file is truncated, damaged or not a checkpoint."""


def history_buffer_getattr(owner, name: str):
    """``getattr`` restricted to ``HistoryBuffer``'s statistics methods."""
    if owner not in (HistoryBuffer, RestoredHistoryBuffer) or \
            name not in HISTORY_BUFFER_STATISTICS:
        raise UnsafeCheckpointError(
            f'refusing getattr({owner!r}, {name!r}) while loading a '
            'checkpoint: only HistoryBuffer statistics methods are allowed')
    return getattr(HistoryBuffer, name)


class CheckedDtype:
    """``numpy.dtype(code, align, copy)`` of a checkpoint, then ``BUILD``
    with its byte order; refuses all but numeric dtypes. Unhashable, like
    the records below, so that the file cannot hide one in a set or a key.
    """

    __hash__ = None
    dtype = None  # a record made without __init__ (NEWOBJ) stays empty

    def __init__(self, code, align=False, copy=True):
        try:
            dtype = np.dtype(code) if isinstance(code, str) else None
        except TypeError:
            dtype = None
        if dtype is None or dtype.kind not in NUMERIC_KINDS:
            name = f' ({dtype.name})' if dtype is not None else ''
            raise UnsafeCheckpointError(
                f'numpy dtype {code!r}{name} is refused: only bool, integer, '
                'float and complex arrays can be loaded (an object or '
                'structured dtype over raw bytes would let the file choose '
                'memory addresses)')
        self.dtype = dtype

    def __setstate__(self, state):
        if not (isinstance(state, tuple) and len(state) in (8, 9)
                and state[0] in (3, 4) and state[1] in ('<', '>', '|', '=')
                and state[2:5] == (None, None, None)):
            raise UnsafeCheckpointError(
                f'unexpected numpy dtype state {state!r}')
        if state[1] == NON_NATIVE_ORDER:
            self.dtype = self.value().newbyteorder(state[1])

    def value(self) -> np.dtype:
        if self.dtype is None:
            raise UnsafeCheckpointError('a numpy dtype without its code')
        return self.dtype


class CheckedArray:
    """``_reconstruct(ndarray, ...)`` then ``BUILD``: numpy's pickle of an
    array, built from a checked state; replaced by the array once loaded."""

    __hash__ = None
    array = None

    def __setstate__(self, state):
        if not (isinstance(state, tuple) and len(state) == 5):
            raise UnsafeCheckpointError(
                f'unexpected numpy array state {state!r:.200}')
        _, shape, dtype, fortran, data = state
        if not (isinstance(shape, tuple) and all(
                type(n) is int and n >= 0 for n in shape)):
            raise UnsafeCheckpointError(f'bad numpy array shape {shape!r}')
        if not isinstance(dtype, CheckedDtype):
            raise UnsafeCheckpointError(
                f'a numpy array needs a numpy dtype, got {dtype!r:.200}')
        dtype = dtype.value()
        size = int(np.prod(shape, dtype=object)) * dtype.itemsize
        if not isinstance(data, bytes) or len(data) != size:
            raise UnsafeCheckpointError(
                f'a numpy array of shape {shape} and dtype {dtype} needs '
                f'{size} bytes of data')
        self.array = np.frombuffer(data, dtype).reshape(
            shape, order='F' if fortran else 'C').copy(order='K')

    def value(self) -> np.ndarray:
        if self.array is None:
            raise UnsafeCheckpointError('a numpy array without its data')
        return self.array


def empty_bytes(*args):
    """``bytes()``: how pickle protocol 2 writes ``b''`` (the data of an
    empty array); ``bytes(n)`` would let the file allocate n bytes."""
    if args:
        raise UnsafeCheckpointError(f'bytes{args!r:.100} is refused')
    return b''


def refuse_ndarray_call(*args, **kwargs):
    """``numpy.ndarray``: only as ``_reconstruct``'s argument."""
    raise UnsafeCheckpointError(
        'the checkpoint calls numpy.ndarray(...) directly, which builds an '
        'array over raw memory; numpy itself never pickles arrays that way')


def reconstruct_array(cls, shape, typecode):
    """``numpy.core.multiarray._reconstruct``; the ``BUILD`` that follows
    gives the array."""
    if cls is not refuse_ndarray_call:
        raise UnsafeCheckpointError(
            f'numpy _reconstruct of {cls!r}: only numpy.ndarray is allowed')
    return CheckedArray()


def numpy_scalar(dtype, data):
    """``numpy.core.multiarray.scalar``."""
    if not isinstance(dtype, CheckedDtype) or not isinstance(
            data, bytes) or len(data) != dtype.value().itemsize:
        raise UnsafeCheckpointError(
            f'bad numpy scalar ({dtype!r:.100}, {data!r:.100})')
    return np.frombuffer(data, dtype.value())[0]


class RestoredHistoryBuffer(HistoryBuffer):
    """What a checkpoint's ``HistoryBuffer`` is unpickled as: the state is
    checked, set, and the object becomes a plain ``HistoryBuffer``; the
    class-level statistics methods are left alone."""

    def __init__(self, *args, **kwargs):
        raise UnsafeCheckpointError(
            'the checkpoint calls HistoryBuffer(...); mmengine pickles '
            'buffers by their state')

    def __setstate__(self, state):
        if not isinstance(state, dict):
            raise UnsafeCheckpointError(
                'HistoryBuffer state must be a dict, got '
                f'{type(state).__name__}')
        state = dict(state)
        methods = state.pop('statistics_methods', {})
        unexpected = set(state) - set(HISTORY_BUFFER_KEYS)
        if unexpected:
            raise UnsafeCheckpointError(
                f'unexpected key {sorted(unexpected)[0]!r} in a '
                'HistoryBuffer state')
        if not isinstance(methods, dict) or any(
                name not in HISTORY_BUFFER_STATISTICS
                or method is not getattr(HistoryBuffer, name)
                for name, method in methods.items()):
            raise UnsafeCheckpointError(
                'a HistoryBuffer statistics method must be one of '
                f'{HISTORY_BUFFER_STATISTICS} under its own name, got '
                f'{methods!r:.200}')
        max_length = state.get('max_length')
        if type(max_length) is not int or max_length < 1:
            raise UnsafeCheckpointError(
                f'HistoryBuffer max_length must be a positive int, got '
                f'{max_length!r:.100}')
        logs, counts = (materialize(state.get(key), {})
                        for key in HISTORY_BUFFER_KEYS[1:])
        if not all(isinstance(a, np.ndarray) and a.ndim == 1
                   for a in (logs, counts)) or len(logs) != len(counts):
            raise UnsafeCheckpointError(
                'HistoryBuffer _log_history and _count_history must be 1-D '
                'numpy arrays of one length')
        self.__class__ = HistoryBuffer
        self.__dict__.update(max_length=max_length, _log_history=logs,
                             _count_history=counts)
        self._set_default_statistics()  # mmengine's own methods


def checkpoint_globals() -> list:
    """``(stand-in, pickled name)`` pairs: the globals an mmengine
    checkpoint may ask for (see the module docstring)."""
    pairs = [(history_buffer_getattr, 'builtins.getattr'),
             (empty_bytes, 'builtins.bytes'),
             (RestoredHistoryBuffer,
              'mmengine.logging.history_buffer.HistoryBuffer'),
             (refuse_ndarray_call, 'numpy.ndarray'),
             (CheckedDtype, 'numpy.dtype'),
             (CheckedArray, f'{__name__}.CheckedArray')]
    for module in ('numpy.core.multiarray', 'numpy._core.multiarray'):
        pairs += [(reconstruct_array, f'{module}._reconstruct'),
                  (numpy_scalar, f'{module}.scalar')]
    return pairs


@contextmanager
def only_checkpoint_globals():
    """Allow exactly :func:`checkpoint_globals` while loading, whatever else
    this process has allow-listed."""
    saved = torch.serialization.get_safe_globals()
    torch.serialization.clear_safe_globals()
    torch.serialization.add_safe_globals(checkpoint_globals())
    try:
        yield
    finally:
        torch.serialization.clear_safe_globals()
        torch.serialization.add_safe_globals(saved)


def materialize(obj, seen: dict):
    """Replace the numpy records left in containers by their values.
    ``seen`` maps the ``id`` of each container walked to the container and
    what replaces it (holding both, so that no id is reused meanwhile)."""
    if isinstance(obj, (CheckedArray, CheckedDtype)):
        return obj.value()
    if type(obj) is RestoredHistoryBuffer:
        raise UnsafeCheckpointError('a HistoryBuffer without its state')
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


# torch names the refused global as "GLOBAL posix.system ..." in its message.
REFUSED_GLOBAL = re.compile(r'GLOBAL ([\w.]+)')
# torch.save writes a zip archive (or, before torch 1.6, a pickle)
CHECKPOINT_HEADERS = (b'PK', b'\x80')


def load_weights_only(source, name: str, map_location=None):
    """``torch.load(source, weights_only=True)`` with
    :func:`only_checkpoint_globals`; errors name ``name`` (the file)."""
    try:
        with only_checkpoint_globals():
            checkpoint = torch.load(
                source, map_location=map_location, weights_only=True)
        return materialize(checkpoint, {})
    except pickle.UnpicklingError as error:
        raise UnsafeCheckpointError(
            f'refusing to load checkpoint {name!r}: {refusal(error)}. '
            'Nothing from the file was run (it is loaded with torch.load('
            'weights_only=True)); do not load it with weights_only=False '
            'unless you trust its source.') from None
    except (EOFError, OSError, RuntimeError, KeyError, TypeError, ValueError,
            AttributeError, IndexError) as error:
        # torch reports a cut-off zip archive as OSError, EOFError or a
        # RuntimeError of its PytorchStreamReader, a damaged pickle by
        # whatever its unpickler trips over; other RuntimeErrors (e.g. a
        # CUDA map_location on a CPU machine) are not about the file.
        if isinstance(error, RuntimeError) and not isinstance(
                error, RecursionError) and \
                'PytorchStreamReader' not in str(error):
            raise
        raise CorruptCheckpointError(
            f'cannot read checkpoint {name!r}: it is truncated or damaged '
            f'({type(error).__name__}: {error}); resume from an earlier '
            'checkpoint') from error


def refusal(error: pickle.UnpicklingError) -> str:
    """Why torch's weights-only unpickler refused a file, in short."""
    refused = REFUSED_GLOBAL.search(str(error))
    if refused:
        return (f'it asks for the global {refused.group(1)!r}, which a '
                'checkpoint of weights never needs')
    if isinstance(error, UnsafeCheckpointError):
        return str(error)
    if isinstance(error.__context__, UnsafeCheckpointError):
        return str(error.__context__)  # a stand-in's
    return str(error)


def load_checkpoint_file(filename: str, map_location=None):
    """Load a checkpoint file safely (see the module docstring).

    Raises:
        FileNotFoundError: ``filename`` does not exist.
        UnsafeCheckpointError: the pickle asks for a global outside the
            allow-list (e.g. ``os.system``) or a checked object fails its
            check; nothing from the file has run.
        CorruptCheckpointError: the file is truncated, damaged or not a
            checkpoint.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint not found: {filename}')
    with open(filename, 'rb') as f:
        head = f.read(16)
    if head and not head.startswith(CHECKPOINT_HEADERS):
        raise CorruptCheckpointError(
            f'{filename!r} is not a checkpoint: torch.save writes a zip '
            f'archive or a pickle, and this file starts with {head!r}')
    return load_weights_only(filename, filename, map_location)


def load_from_local(filename: str, map_location=None):
    """Scheme ``''``: a local path (mmengine logs the name after
    ``load_from_``)."""
    return load_checkpoint_file(filename, map_location)


def load_url(url: str, map_location=None, model_dir=None, progress=True):
    """``torch.hub.load_state_dict_from_url``'s cache and download (the file
    goes to ``<torch hub dir>/checkpoints/<name in the URL>`` unless it is
    there already), loaded with :func:`load_checkpoint_file`."""
    if model_dir is None:
        model_dir = osp.join(torch.hub.get_dir(), 'checkpoints')
    os.makedirs(model_dir, exist_ok=True)
    cached = osp.join(model_dir, osp.basename(urlparse(url).path))
    if not osp.exists(cached):
        torch.hub.download_url_to_file(url, cached, None, progress=progress)
    return load_checkpoint_file(cached, map_location)


def load_from_http(filename: str,
                   map_location=None,
                   model_dir=None,
                   progress=os.isatty(0)):
    """Schemes ``http://``, ``https://``: rank 0 downloads first, the other
    ranks load the file after it (mmengine's order)."""
    rank, world_size = get_dist_info()
    if rank == 0:
        checkpoint = load_url(filename, map_location, model_dir, progress)
    if world_size > 1:
        torch.distributed.barrier()
        if rank > 0:
            checkpoint = load_url(filename, map_location, model_dir,
                                  progress)
    return checkpoint


def zoo_url(filename: str, models: dict, zoo: str) -> str:
    """The URL that ``models`` gives the name after ``://``."""
    name = filename.split('://', 1)[1]
    if name not in models:
        raise KeyError(f'{filename}: no {zoo} model {name!r}')
    return models[name]


def load_from_torchvision(filename: str, map_location=None):
    """Schemes ``torchvision://``, ``modelzoo://``: torchvision's weights."""
    url = zoo_url(filename, get_torchvision_models(), 'torchvision')
    return load_from_http(url, map_location=map_location)


def load_from_openmmlab(filename: str, map_location=None):
    """Schemes ``open-mmlab://``, ``openmmlab://``: mmengine's list (and
    ``$MMENGINE_HOME/open_mmlab.json``), a URL or a file in
    ``$MMENGINE_HOME``."""
    scheme, name = filename.split('://', 1)
    name = get_deprecated_model_names().get(name, name)
    url = zoo_url(f'{scheme}://{name}', get_external_models(), 'OpenMMLab')
    if url.startswith(('http://', 'https://')):
        return load_from_http(url, map_location=map_location)
    return load_checkpoint_file(
        osp.join(_get_mmengine_home(), url), map_location)


def load_from_mmcls(filename: str, map_location=None):
    """Scheme ``mmcls://``: mmcls weights, renamed as mmengine does."""
    url = zoo_url(filename, get_mmcls_models(), 'mmcls')
    return _process_mmcls_checkpoint(
        load_from_http(url, map_location=map_location))


def load_from_pavi(filename: str, map_location=None):
    """Scheme ``pavi://``: downloaded to a temporary directory."""
    from pavi import modelcloud
    model = modelcloud.get(filename[len('pavi://'):])
    with TemporaryDirectory() as tmp_dir:
        path = osp.join(tmp_dir, model.name)
        model.download(path)
        return load_checkpoint_file(path, map_location)


def load_from_ceph(filename: str, map_location=None, backend='petrel'):
    """Schemes ``s3://``, ``petrel://``: read through mmengine's backend."""
    file_backend = get_file_backend(
        filename, backend_args=dict(backend=backend))
    with io.BytesIO(file_backend.get(filename)) as buffer:
        return load_weights_only(buffer, filename, map_location)


SCHEMES = (
    ('', load_from_local),
    (('http://', 'https://'), load_from_http),
    (('modelzoo://', 'torchvision://'), load_from_torchvision),
    (('open-mmlab://', 'openmmlab://'), load_from_openmmlab),
    ('mmcls://', load_from_mmcls),
    ('pavi://', load_from_pavi),
    ((r'(\S+\:)?s3://', r'(\S+\:)?petrel://'), load_from_ceph),
)


def register_safe_loaders() -> None:
    """Make this module's loaders mmengine's, for every scheme."""
    for prefixes, loader in SCHEMES:
        CheckpointLoader.register_scheme(prefixes, loader, force=True)


def checkpoint_weights(checkpoint) -> dict:
    """The model weights of a checkpoint (or a bare state dict), with DDP's
    ``module.`` prefix removed as mmengine does when loading."""
    weights = checkpoint.get('state_dict', checkpoint)
    renamed = OrderedDict((re.sub(r'^module\.', '', key), value)
                          for key, value in weights.items())
    renamed._metadata = getattr(weights, '_metadata', OrderedDict())
    return renamed


def check_shapes(model: torch.nn.Module, checkpoint, name: str) -> None:
    """Raise naming every weight of ``checkpoint`` whose shape differs from
    ``model``'s (mmengine only warns, and loads the rest).

    Raises:
        ValueError: ``key has shape (5, 64) in the checkpoint and (10, 64)
            in the model; ...``.
    """
    own = model.state_dict()
    mismatched = [
        f'{key} has shape {tuple(value.shape)} in the checkpoint and '
        f'{tuple(own[key].shape)} in the model'
        for key, value in checkpoint_weights(checkpoint).items()
        if key in own and isinstance(value, torch.Tensor)
        and value.shape != own[key].shape
    ]
    if mismatched:
        raise ValueError(
            f'checkpoint {name} does not fit the model: '
            f'{"; ".join(mismatched)} (trained with another num_classes or '
            'another model?)')


def load_model_weights(model: torch.nn.Module, filename: str,
                       map_location='cpu'):
    """Load ``filename``'s weights into ``model``, like mmengine's
    ``load_checkpoint`` but failing on a shape mismatch (for evaluation)."""
    checkpoint = CheckpointLoader.load_checkpoint(filename, map_location)
    check_shapes(model, checkpoint, filename)
    load_state_dict(model, checkpoint_weights(checkpoint))
    return checkpoint
