"""Load mmengine checkpoints with ``torch.load(weights_only=True)``.

Since torch 2.6 ``torch.load`` defaults to ``weights_only=True``, which
rejects the non-tensor objects mmengine puts in a checkpoint (the message
hub's ``HistoryBuffer`` and the numpy arrays and scalars it holds), so
``--resume`` fails. This allow-lists exactly those types; ``weights_only``
stays on, so a checkpoint still cannot run code while loading.

``HistoryBuffer`` pickles its statistics methods as
``getattr(HistoryBuffer, 'min')``. Allowing ``builtins.getattr`` itself would
allow attribute lookups on every allowed object, so the name is mapped to
:func:`history_buffer_getattr`, which resolves nothing but those methods.

:func:`load_checkpoint_file` replaces mmengine's loader of local files
(``--resume``, ``load_from``, ``tools/test.py``, ``init_cfg`` pretrained
weights) and of ``http(s)://`` URLs (downloaded first): it always passes
``weights_only=True``, and a file that asks for
anything else (a pickle built to run code) is refused with an
:class:`UnsafeCheckpointError` naming the file and the offending global.
"""
import os
import os.path as osp
import pickle
import re
from urllib.parse import urlparse

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader

NUMPY_CORE_NAMES = ('numpy.core.multiarray', 'numpy._core.multiarray')
# HistoryBuffer fills _statistics_methods with these on first instantiation.
HISTORY_BUFFER_STATISTICS = ('min', 'max', 'current', 'mean')


class UnsafeCheckpointError(pickle.UnpicklingError, ValueError):
    """A checkpoint asks for an object that weights-only loading refuses."""


class CorruptCheckpointError(RuntimeError):
    """A checkpoint file is truncated or damaged."""


def history_buffer_getattr(owner, name: str):
    """``getattr`` restricted to ``HistoryBuffer``'s statistics methods."""
    allowed = (*HISTORY_BUFFER_STATISTICS, *HistoryBuffer._statistics_methods)
    if owner is not HistoryBuffer or name not in allowed:
        raise UnsafeCheckpointError(
            f'refusing getattr({owner!r}, {name!r}) while loading a '
            'checkpoint: only HistoryBuffer statistics methods are allowed')
    return getattr(HistoryBuffer, name)


def _numpy_core():
    core = getattr(np, '_core', None) or np.core
    return core.multiarray


def mmengine_checkpoint_globals() -> list:
    """The globals an mmengine checkpoint needs, as ``(object, name)`` pairs
    (names of numpy 1.x and 2.x alike, so old checkpoints load too)."""
    multiarray = _numpy_core()
    pairs = [(history_buffer_getattr, 'builtins.getattr'),
             (HistoryBuffer, 'mmengine.logging.history_buffer.HistoryBuffer'),
             (np.ndarray, 'numpy.ndarray'), (np.dtype, 'numpy.dtype')]
    for module in NUMPY_CORE_NAMES:
        pairs += [(multiarray._reconstruct, f'{module}._reconstruct'),
                  (multiarray.scalar, f'{module}.scalar')]
    # numpy >= 1.25 pickles dtypes through their classes in numpy.dtypes.
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        pairs += [(getattr(dtypes, name), f'numpy.dtypes.{name}')
                  for name in dir(dtypes) if name.endswith('DType')]
    return pairs


def allow_mmengine_checkpoint_types() -> None:
    """Allow-list :func:`mmengine_checkpoint_globals` for ``torch.load``."""
    torch.serialization.add_safe_globals(mmengine_checkpoint_globals())


# torch names the refused global as "GLOBAL posix.system ..." in its message.
REFUSED_GLOBAL = re.compile(r'GLOBAL ([\w.]+)')


def load_checkpoint_file(filename: str, map_location=None):
    """``torch.load(filename, weights_only=True)`` with errors that name the
    file.

    Raises:
        FileNotFoundError: ``filename`` does not exist.
        UnsafeCheckpointError: the pickle asks for a global outside the
            allow-list (e.g. ``os.system``); nothing from the file has run.
        CorruptCheckpointError: the file is truncated or not a checkpoint.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint not found: {filename}')
    try:
        return torch.load(
            filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        refused = REFUSED_GLOBAL.search(str(error))
        if refused:
            reason = (f'it asks for the global {refused.group(1)!r}, which '
                      'a checkpoint of weights never needs')
        elif isinstance(error.__context__, UnsafeCheckpointError):
            reason = str(error.__context__)  # history_buffer_getattr's
        else:
            reason = str(error)
        raise UnsafeCheckpointError(
            f'refusing to load checkpoint {filename!r}: {reason}. Nothing '
            'from the file was run (it is loaded with torch.load('
            'weights_only=True)); do not load it with weights_only=False '
            'unless you trust its source.') from None
    except (EOFError, OSError, RuntimeError) as error:
        # torch reports a cut-off zip archive as OSError, EOFError or a
        # RuntimeError of its PytorchStreamReader; other RuntimeErrors
        # (e.g. a CUDA map_location on a CPU machine) are not corruption.
        if isinstance(error, RuntimeError) and \
                'PytorchStreamReader' not in str(error):
            raise
        raise CorruptCheckpointError(
            f'cannot read checkpoint {filename!r}: it is truncated or '
            f'damaged ({type(error).__name__}: {error}); resume from an '
            'earlier checkpoint') from error


def load_from_local_weights_only(filename: str, map_location=None):
    """mmengine ``CheckpointLoader`` scheme for local paths (the name after
    ``load_from_`` is what mmengine logs)."""
    return load_checkpoint_file(filename, map_location)


def load_from_url_weights_only(url: str, map_location=None):
    """mmengine ``CheckpointLoader`` scheme for ``http(s)://`` URLs
    (pretrained weights in configs): download once into torch hub's
    ``checkpoints`` directory, then :func:`load_checkpoint_file`. mmengine's
    own URL loader unpickles with ``weights_only=False``."""
    directory = osp.join(torch.hub.get_dir(), 'checkpoints')
    filename = osp.join(directory, osp.basename(urlparse(url).path))
    if not osp.isfile(filename):
        os.makedirs(directory, exist_ok=True)
        torch.hub.download_url_to_file(url, filename)
    return load_checkpoint_file(filename, map_location)


def register_weights_only_loader() -> None:
    """Make :func:`load_checkpoint_file` mmengine's loader of local paths
    and of downloaded URLs."""
    CheckpointLoader.register_scheme(
        prefixes='', loader=load_from_local_weights_only, force=True)
    CheckpointLoader.register_scheme(
        prefixes=('http://', 'https://'),
        loader=load_from_url_weights_only,
        force=True)
