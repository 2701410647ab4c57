"""Crafted checkpoints: loaded unsafely, each runs code (creating a marker
file), corrupts memory, or rewrites process state. Shared by the
safe-loading tests and the subprocess they run."""
import copyreg
import os
import pathlib
from collections import OrderedDict

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

from conftest import Payload


def code_payloads(marker: str) -> dict:
    """Payloads that create ``marker``, by the global torch refuses (as
    pickle names it)."""
    return {
        'posix.system': Payload(os.system, f'touch {marker}'),
        'builtins.exec': Payload(exec, f'open({marker!r}, "w").close()'),
        # pickled as getattr(pathlib.Path, 'touch')(path)
        'pathlib.Path': Payload(pathlib.Path.touch, pathlib.Path(marker)),
    }


def save_checkpoint(path, note=None, state_dict=None) -> str:
    """An otherwise valid mmengine checkpoint with ``note`` in its meta."""
    torch.save(
        dict(meta=dict(iter=1, epoch=0, note=note),
             state_dict=state_dict or dict(weight=torch.ones(2))), path)
    return str(path)


def code_checkpoint(path, marker: str, name: str = 'posix.system') -> str:
    return save_checkpoint(path, code_payloads(marker)[name])


def memory_payloads() -> dict:
    """numpy objects whose element pointers would be attacker bytes: the
    direct ``ndarray`` constructor over a buffer, with an object dtype or a
    structured dtype holding an object, and numpy's own pickle path
    (``_reconstruct`` + ``BUILD``) fed an object dtype and raw bytes."""
    raw = b'AAAAAAAA'
    reconstruct = np.ndarray.__reduce__(np.zeros(1))[0]
    return {
        'object': Payload(np.ndarray, (), np.dtype('O'), raw),
        'structured-object': Payload(np.ndarray, (), np.dtype([('a', 'O')]),
                                     raw),
        'reconstruct-object': Payload(
            reconstruct, np.ndarray, (0, ), b'b',
            state=(1, (1, ), np.dtype('O'), False, raw)),
    }


def state_dict_with_version(version) -> OrderedDict:
    """A state dict whose ``_metadata`` (per-module versions, read by
    ``Module._load_from_state_dict``) holds ``version``."""
    state_dict = OrderedDict(weight=torch.ones(2))
    state_dict._metadata = OrderedDict({'': dict(version=version)})
    return state_dict


def memory_checkpoint(path, name: str) -> str:
    return save_checkpoint(
        path, state_dict=state_dict_with_version(memory_payloads()[name]))


class BufferPayload(Payload):
    """Pickles as ``HistoryBuffer`` NEWOBJ + BUILD ``state`` (pickle checks
    that the object claims to be of the class it names)."""

    __class__ = property(lambda self: HistoryBuffer)


def history_buffer(state) -> Payload:
    """A ``HistoryBuffer`` restored from ``state``."""
    return BufferPayload(copyreg.__newobj__, HistoryBuffer, state=state)


def buffer_state(**changes) -> dict:
    """The state mmengine pickles for a two-value buffer, with changes."""
    state = dict(max_length=10, _log_history=np.array([1., 5.]),
                 _count_history=np.array([1, 1]),
                 statistics_methods={
                     name: getattr(HistoryBuffer, name)
                     for name in ('min', 'max', 'current', 'mean')})
    state.update(changes)
    return state
