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
stand-in (:func:`checkpoint_globals`), and nothing else allowed:

* numpy arrays, dtypes and scalars, and ``builtins.bytes``: the stand-ins
  of :mod:`dm_plugin.safe_pickle`, which the CIFAR archives are read with
  too (numeric dtypes only, arrays from checked states);
* ``HistoryBuffer`` (the message hub's logs): restored from a checked state
  (``max_length``, two equally long 1-D numeric arrays, the statistics
  methods by their own names) without running its ``__setstate__``, which
  would write the file's methods into the class-level
  ``_statistics_methods``;
* ``builtins.getattr``: resolves only ``HistoryBuffer``'s ``min``, ``max``,
  ``current`` and ``mean`` (how pickle names those methods).

A file that asks for anything else is refused with an
:class:`UnsafeCheckpointError` naming the file and the reason.
"""
import io
import os
import os.path as osp
import pickle
import re
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

from dm_plugin.safe_pickle import (Record, UnsafePickleError, materialize,
                                   numpy_globals)

# HistoryBuffer fills _statistics_methods with these on first instantiation.
HISTORY_BUFFER_STATISTICS = ('min', 'max', 'current', 'mean')
HISTORY_BUFFER_KEYS = ('max_length', '_log_history', '_count_history')


class UnsafeCheckpointError(UnsafePickleError):
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


class RestoredHistoryBuffer(HistoryBuffer, Record):
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

    def value(self):
        raise UnsafeCheckpointError('a HistoryBuffer without its state')


def checkpoint_globals() -> list:
    """``(stand-in, pickled name)`` pairs: the globals an mmengine
    checkpoint may ask for (see the module docstring)."""
    return numpy_globals() + [
        (history_buffer_getattr, 'builtins.getattr'),
        (RestoredHistoryBuffer,
         'mmengine.logging.history_buffer.HistoryBuffer')]


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


# torch names the refused global as "GLOBAL posix.system ..." in its message;
# a builtin as "GLOBAL builtins.exec" (torch 2.6) or "GLOBAL exec" (newer).
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
        name = refused.group(1)
        if '.' not in name:  # a pickled global is always module.name
            name = f'builtins.{name}'
        return (f'it asks for the global {name!r}, which a checkpoint of '
                'weights never needs')
    if isinstance(error, UnsafePickleError):
        return str(error)
    if isinstance(error.__context__, UnsafePickleError):
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
