"""Checkpoints built to run code are refused, and nothing runs."""
import os
import os.path as osp
import pathlib
import pickle

import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner import Runner
from mmengine.runner.checkpoint import CheckpointLoader

from dm_plugin.engine.checkpoint import (CorruptCheckpointError,
                                         UnsafeCheckpointError,
                                         load_checkpoint_file)


class Payload:
    """Pickles as ``call(*args)``: what a crafted checkpoint runs under
    ``weights_only=False``."""

    def __init__(self, call, *args):
        self.call, self.args = call, args

    def __reduce__(self):
        return self.call, self.args


def payloads(marker: str):
    """Payloads that create ``marker``, by the global torch refuses."""
    return {
        'posix.system': Payload(os.system, f'touch {marker}'),
        'exec': Payload(exec, f'open({marker!r}, "w").close()'),
        # pickled as getattr(pathlib.Path, 'touch')(path)
        'pathlib.Path': Payload(pathlib.Path.touch, pathlib.Path(marker)),
    }


def crafted_checkpoint(path: str, payload) -> str:
    """An otherwise valid mmengine checkpoint with ``payload`` in its meta."""
    torch.save(
        dict(meta=dict(iter=1, epoch=0, note=payload),
             state_dict=dict(weight=torch.ones(2))), path)
    return path


@pytest.mark.parametrize('name', list(payloads('-')))
def test_code_running_checkpoint_is_refused(tmp_path, name):
    marker = str(tmp_path / 'pwned')
    path = crafted_checkpoint(str(tmp_path / 'evil.pth'),
                              payloads(marker)[name])
    with pytest.raises(UnsafeCheckpointError) as info:
        load_checkpoint_file(path)
    message = str(info.value)
    assert path in message and 'Nothing from the file was run' in message
    assert f"global '{name}'" in message
    assert not osp.exists(marker)
    # the payload is real: an unsafe load would have run it
    torch.load(path, weights_only=False)
    assert osp.exists(marker)


def test_mmengine_loads_through_the_safe_loader(tmp_path):
    marker = str(tmp_path / 'pwned')
    path = crafted_checkpoint(str(tmp_path / 'evil.pth'),
                              payloads(marker)['posix.system'])
    with pytest.raises(UnsafeCheckpointError, match='evil.pth'):
        CheckpointLoader.load_checkpoint(path, map_location='cpu')
    assert not osp.exists(marker)


def test_resume_from_crafted_checkpoint_is_refused(runner_cfg, tmp_path):
    marker = str(tmp_path / 'pwned')
    path = crafted_checkpoint(str(tmp_path / 'evil.pth'),
                              payloads(marker)['exec'])
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


def test_real_checkpoint_loads(runner_cfg, tmp_path):
    Runner.from_cfg(runner_cfg(max_iters=1)).train()
    checkpoint = load_checkpoint_file(str(tmp_path / 'work' / 'iter_1.pth'))
    assert checkpoint['meta']['iter'] == 1
    assert isinstance(checkpoint['message_hub']['log_scalars']['train/loss'],
                      HistoryBuffer)


@pytest.mark.parametrize('keep', [0, 100, 0.5])
def test_truncated_checkpoint_is_named(tmp_path, keep):
    path = str(tmp_path / 'cut.pth')
    torch.save(dict(state_dict=dict(weight=torch.randn(64, 64))), path)
    data = open(path, 'rb').read()
    with open(path, 'wb') as f:
        f.write(data[:int(keep * len(data)) if keep < 1 else keep])
    with pytest.raises(CorruptCheckpointError, match='cut.pth.*truncated'):
        load_checkpoint_file(path)


def test_missing_checkpoint_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        load_checkpoint_file(str(tmp_path / 'nope.pth'))


def test_unsafe_error_is_an_unpickling_error():
    """Callers that catch torch's error keep working."""
    assert issubclass(UnsafeCheckpointError, pickle.UnpicklingError)


def test_url_checkpoints_are_downloaded_then_loaded_safely(
        tmp_path, monkeypatch):
    """Pretrained weights named by URL in a config (mmengine would unpickle
    them with weights_only=False) go through the safe loader too."""
    marker = str(tmp_path / 'pwned')
    served = {
        'evil.pth': crafted_checkpoint(str(tmp_path / 'served_evil.pth'),
                                       payloads(marker)['posix.system']),
        'good.pth': str(tmp_path / 'served_good.pth'),
    }
    torch.save(dict(state_dict=dict(weight=torch.ones(2))),
               served['good.pth'])
    downloads = []

    def download(url, dst, *args, **kwargs):
        downloads.append(url)
        with open(served[osp.basename(url)], 'rb') as src, \
                open(dst, 'wb') as out:
            out.write(src.read())

    monkeypatch.setattr(torch.hub, 'download_url_to_file', download)
    monkeypatch.setattr(torch.hub, 'get_dir', lambda: str(tmp_path / 'hub'))
    with pytest.raises(UnsafeCheckpointError, match='evil.pth'):
        CheckpointLoader.load_checkpoint('https://example.org/w/evil.pth')
    assert not osp.exists(marker)
    for _ in range(2):  # the second load finds the downloaded file
        loaded = CheckpointLoader.load_checkpoint(
            'https://example.org/w/good.pth', map_location='cpu')
        torch.testing.assert_close(loaded['state_dict']['weight'],
                                   torch.ones(2))
    assert downloads == ['https://example.org/w/evil.pth',
                         'https://example.org/w/good.pth']
