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
"""
import numpy as np
import torch
from mmengine.logging import HistoryBuffer

NUMPY_CORE_NAMES = ('numpy.core.multiarray', 'numpy._core.multiarray')
# HistoryBuffer fills _statistics_methods with these on first instantiation.
HISTORY_BUFFER_STATISTICS = ('min', 'max', 'current', 'mean')


def history_buffer_getattr(owner, name: str):
    """``getattr`` restricted to ``HistoryBuffer``'s statistics methods."""
    allowed = (*HISTORY_BUFFER_STATISTICS, *HistoryBuffer._statistics_methods)
    if owner is not HistoryBuffer or name not in allowed:
        raise ValueError(
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
