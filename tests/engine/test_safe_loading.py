"""Checkpoints built to run code, corrupt memory or rewrite process state
are refused, and nothing from them runs."""
import os
import os.path as osp
import pickle
import subprocess
import sys
from collections import Counter, OrderedDict

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import HistoryBuffer
from mmengine.runner import Runner
from mmengine.runner.checkpoint import CheckpointLoader

from conftest import tiny_runner_cfg
from crafted import (Payload, buffer_state, code_checkpoint, code_payloads,
                     history_buffer, memory_checkpoint, memory_payloads,
                     save_checkpoint)
from dm_plugin.engine.checkpoint import (CorruptCheckpointError,
                                         UnsafeCheckpointError,
                                         load_checkpoint_file, refusal)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
HERE = osp.dirname(osp.abspath(__file__))


@pytest.mark.parametrize('name', list(code_payloads('-')))
def test_code_running_checkpoint_is_refused(tmp_path, name):
    """``os.system`` and ``exec`` are refused as globals, named as the file
    names them whatever torch's wording; ``pathlib.Path.touch`` is pickled
    as ``getattr(pathlib.Path, 'touch')``."""
    marker = str(tmp_path / 'pwned')
    path = code_checkpoint(tmp_path / 'evil.pth', marker, name)
    with pytest.raises(UnsafeCheckpointError) as info:
        load_checkpoint_file(path)
    message = str(info.value)
    assert path in message and 'Nothing from the file was run' in message
    assert f"global '{name}'" in message
    assert not osp.exists(marker)
    # the payload is real: an unsafe load would have run it
    torch.load(path, weights_only=False)
    assert osp.exists(marker)


@pytest.mark.parametrize('wording', [
    'Unsupported global: GLOBAL builtins.exec was not an allowed global by '
    'default. Please use `torch.serialization.add_safe_globals([exec])`',
    'Unsupported global: GLOBAL exec was not an allowed global by default. '
    'Please use `torch.serialization.add_safe_globals([exec])`',
])
def test_refused_builtin_is_named_alike_by_every_torch(wording):
    """torch 2.6 (the oldest supported) names a refused builtin
    ``builtins.exec``, newer torch ``exec``: the error names it as the file
    does with both."""
    assert "global 'builtins.exec'" in refusal(
        pickle.UnpicklingError(f'Weights only load failed. {wording}'))


def test_mmengine_loads_through_the_safe_loader(tmp_path):
    marker = str(tmp_path / 'pwned')
    path = code_checkpoint(tmp_path / 'evil.pth', marker)
    with pytest.raises(UnsafeCheckpointError, match='evil.pth'):
        CheckpointLoader.load_checkpoint(path, map_location='cpu')
    assert not osp.exists(marker)


def test_resume_from_crafted_checkpoint_is_refused(runner_cfg, tmp_path):
    marker = str(tmp_path / 'pwned')
    path = code_checkpoint(tmp_path / 'evil.pth', marker, 'builtins.exec')
    cfg = runner_cfg(max_iters=2)
    cfg.update(resume=True, load_from=path)
    with pytest.raises(UnsafeCheckpointError, match='evil.pth'):
        Runner.from_cfg(cfg).train()
    assert not osp.exists(marker)


def test_allowed_getattr_cannot_reach_other_attributes(tmp_path):
    """``builtins.getattr`` is allow-listed only as a restricted stand-in."""
    path = str(tmp_path / 'getattr.pth')
    torch.save(dict(x=Payload(getattr, HistoryBuffer, '__init__')), path)
    with pytest.raises(UnsafeCheckpointError,
                       match=r"getattr.pth.*'__init__'"):
        load_checkpoint_file(path)


# Each entry point of a checkpoint, run in a child process: a memory
# corruption there kills the child (SIGSEGV), not the test session.
PROBE = r'''
import importlib.util, sys
from mmengine.config import Config
from mmengine.runner import Runner
from mmengine.runner.checkpoint import CheckpointLoader
import dm_plugin
from dm_plugin.engine.checkpoint import UnsafeCheckpointError
from dm_plugin.engine.checkpoint import load_checkpoint_file


def tool(name):
    spec = importlib.util.spec_from_file_location(name, f'tools/{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def train(config, checkpoint, resume):
    cfg = Config.fromfile(config)
    cfg.update(load_from=checkpoint, resume=resume)
    Runner.from_cfg(cfg).train()


ENTRIES = {
    'load_checkpoint_file': lambda cfg, ckpt: load_checkpoint_file(ckpt),
    'init_cfg': lambda cfg, ckpt: CheckpointLoader.load_checkpoint(ckpt),
    'load_from': lambda cfg, ckpt: train(cfg, ckpt, False),
    'resume': lambda cfg, ckpt: train(cfg, ckpt, True),
    'tools/test.py': lambda cfg, ckpt: tool('test').main([cfg, ckpt]),
    'tools/visualize_cam.py':
        lambda cfg, ckpt: tool('visualize_cam').load_model(cfg, ckpt),
}
config = sys.argv[1]
for arg in sys.argv[2:]:
    entry, checkpoint = arg.split('=', 1)
    try:
        ENTRIES[entry](config, checkpoint)
    except UnsafeCheckpointError as error:
        print('refused', entry, checkpoint, error, flush=True)
    else:
        print('loaded', entry, checkpoint, flush=True)
'''


def test_memory_corrupting_numpy_is_refused_everywhere(image_folder,
                                                       tmp_path):
    """A pickled ``numpy.ndarray((), dtype('O'), b'AAAAAAAA')`` is an object
    array whose element pointer is attacker bytes; it sits in
    ``state_dict._metadata['']['version']``, which torch reads while
    loading weights. Object and structured-with-object dtypes are refused
    by every entry point; the other payloads by the loader they share."""
    config = str(tmp_path / 'cfg.py')
    cfg = tiny_runner_cfg(image_folder, str(tmp_path / 'work'), max_iters=1)
    Config(dict(cfg, custom_imports=dict(imports=['dm_plugin']))).dump(config)
    paths = {name: memory_checkpoint(tmp_path / f'{name}.pth', name)
             for name in memory_payloads()}
    runs = [f'load_checkpoint_file={path}' for path in paths.values()]
    entries = ['init_cfg', 'load_from', 'resume', 'tools/test.py',
               'tools/visualize_cam.py']
    runs += [f'{entry}={paths["object"]}' for entry in entries]
    child = subprocess.run(
        [sys.executable, '-c', PROBE, config, *runs], cwd=ROOT,
        env={**os.environ, 'OMP_NUM_THREADS': '1',
             'PYTHONPATH': os.pathsep.join([ROOT, HERE])},
        capture_output=True, text=True, timeout=300)
    output = child.stdout + child.stderr[-3000:]
    assert child.returncode == 0, output
    refused = [line for line in child.stdout.splitlines()
               if line.startswith('refused')]
    assert len(refused) == len(runs), output
    for line in refused:
        assert 'numpy dtype' in line and 'object' in line, line


def test_object_dtype_error_is_clear(tmp_path):
    path = memory_checkpoint(tmp_path / 'object.pth', 'object')
    with pytest.raises(
            UnsafeCheckpointError,
            match=r"object.pth.*numpy dtype 'O8' \(object\) is refused"):
        load_checkpoint_file(path)


def statistics_snapshot():
    return dict(HistoryBuffer._statistics_methods)


@pytest.mark.parametrize('methods', [
    dict(mean=HistoryBuffer.max),  # every buffer's mean() would be max()
    dict(update=HistoryBuffer.max),  # widens what getattr may resolve
])
def test_history_buffer_cannot_rewrite_class_state(tmp_path, methods):
    HistoryBuffer()  # the class-level defaults exist
    before = statistics_snapshot()
    path = save_checkpoint(
        tmp_path / 'buffer.pth',
        history_buffer(buffer_state(statistics_methods=methods)))
    with pytest.raises(UnsafeCheckpointError,
                       match=r'buffer.pth.*statistics method'):
        load_checkpoint_file(path)
    assert statistics_snapshot() == before
    assert HistoryBuffer([1., 5.], [1, 1]).mean() == 3.


@pytest.mark.parametrize('state, message', [
    ((1, 2), 'HistoryBuffer state must be a dict, got tuple'),
    (buffer_state(_log_history=np.array([1.])),
     '_log_history and _count_history'),
    (buffer_state(max_length='10'), 'max_length'),
    (buffer_state(evil=1), "unexpected key 'evil'"),
])
def test_history_buffer_state_is_checked(tmp_path, state, message):
    """mmengine's own ``__setstate__`` raises ``AttributeError`` on a tuple
    and accepts anything else."""
    path = save_checkpoint(tmp_path / 'buffer.pth', history_buffer(state))
    with pytest.raises(UnsafeCheckpointError, match=rf'buffer.pth.*{message}'):
        load_checkpoint_file(path)


def test_real_checkpoint_loads_as_mmengine_saved_it(runner_cfg, tmp_path):
    """What mmengine and RandomStateHook save (message hub buffers with
    numpy arrays, a numpy scalar, numpy's random state, a Counter in the
    scheduler) comes back with its real types and values."""
    cfg = runner_cfg(max_iters=1)
    cfg['custom_hooks'] = [dict(type='RandomStateHook')]
    cfg['param_scheduler'] = dict(type='MultiStepLR', milestones=[1],
                                  by_epoch=False)
    Runner.from_cfg(cfg).train()
    path = str(tmp_path / 'work' / 'iter_1.pth')
    checkpoint = load_checkpoint_file(path)
    reference = torch.load(path, weights_only=False)
    assert checkpoint['meta']['iter'] == 1
    buffer = checkpoint['message_hub']['log_scalars']['train/loss']
    assert type(buffer) is HistoryBuffer
    expected = reference['message_hub']['log_scalars']['train/loss']
    for key in ('_log_history', '_count_history'):
        assert type(getattr(buffer, key)) is np.ndarray
        np.testing.assert_array_equal(getattr(buffer, key),
                                      getattr(expected, key))
    assert buffer.mean() == expected.mean()
    eta = checkpoint['message_hub']['runtime_info']['eta']
    assert type(eta) is type(reference['message_hub']['runtime_info']['eta'])
    name, keys, *rest = checkpoint['rng_state']['numpy']
    ref_name, ref_keys, *ref_rest = reference['rng_state']['numpy']
    assert type(keys) is np.ndarray and keys.dtype == ref_keys.dtype
    np.testing.assert_array_equal(keys, ref_keys)
    assert (name, rest) == (ref_name, ref_rest)
    milestones = checkpoint['param_schedulers'][0]['milestones']
    assert type(milestones) is Counter
    assert pickle.dumps(checkpoint['meta']) == pickle.dumps(reference['meta'])


def test_numeric_numpy_objects_round_trip(tmp_path):
    """Arrays of every allowed kind, byte order, memory order and size,
    scalars and dtypes, nested in lists, tuples, dicts and a state dict's
    ``_metadata``, come back equal, with their types."""
    shared = np.arange(6, dtype='>i4').reshape(2, 3)
    values = [np.zeros(0), np.asfortranarray(np.arange(6.).reshape(2, 3)),
              np.array([True, False]), np.array([1 + 2j], np.complex64),
              np.array([1, 2], np.uint8), np.float16(0.5), np.int64(-3),
              np.dtype('<f8'), np.dtype('>u2')]
    state_dict = OrderedDict(weight=torch.ones(1))
    state_dict._metadata = OrderedDict({'': dict(version=np.int64(2))})
    pair = (shared, {'again': shared})
    saved = dict(values=values, nested=[pair, pair], state_dict=state_dict)
    path = str(tmp_path / 'numpy.pth')
    torch.save(saved, path)
    loaded = load_checkpoint_file(path)
    for got, want in zip(loaded['values'], values):
        assert type(got) is type(want)
        if isinstance(want, np.dtype):
            assert got == want and got.byteorder == want.byteorder
        else:
            assert got.dtype == want.dtype
            np.testing.assert_array_equal(got, want)
    assert loaded['values'][1].flags.f_contiguous
    (array, inner), again = loaded['nested']
    assert again is loaded['nested'][0]  # one tuple, as in the file
    assert array.dtype == np.dtype('>i4') and array.flags.writeable
    np.testing.assert_array_equal(array, shared)
    assert inner['again'] is array  # shared as in the file
    assert loaded['state_dict']._metadata[''] == {'version': 2}
    assert type(loaded['state_dict']._metadata['']['version']) is np.int64


@pytest.mark.parametrize('keep', [0, 100, 0.5])
def test_truncated_checkpoint_is_named(tmp_path, keep):
    path = str(tmp_path / 'cut.pth')
    torch.save(dict(state_dict=dict(weight=torch.randn(64, 64))), path)
    data = open(path, 'rb').read()
    with open(path, 'wb') as f:
        f.write(data[:int(keep * len(data)) if keep < 1 else keep])
    with pytest.raises(CorruptCheckpointError, match='cut.pth.*truncated'):
        load_checkpoint_file(path)


def test_text_file_is_not_a_checkpoint(tmp_path):
    """torch reports ``KeyError: 101`` for it."""
    path = tmp_path / 'notes.pth'
    path.write_text('epoch 10: top-1 93.2\n')
    with pytest.raises(CorruptCheckpointError,
                       match="notes.pth.*not a checkpoint.*b'epoch 10"):
        load_checkpoint_file(str(path))


def test_missing_checkpoint_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        load_checkpoint_file(str(tmp_path / 'nope.pth'))


def test_unsafe_error_is_an_unpickling_error():
    """Callers that catch torch's error keep working."""
    assert issubclass(UnsafeCheckpointError, pickle.UnpicklingError)
