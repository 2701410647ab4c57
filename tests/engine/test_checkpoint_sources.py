"""Every way mmengine fetches a checkpoint (a local path, http(s), the
torchvision / openmmlab / mmcls model zoos, pavi, s3) loads it through the
safe loader: a crafted file placed exactly where a download lands never runs
code. No test touches the network: files are put in a temporary torch hub
cache, and downloads are replaced by a function that writes the file."""
import json
import os.path as osp
import sys
import types

import mmengine.runner.checkpoint as mmengine_checkpoint
import pytest
import torch
from mmengine.runner import Runner
from mmengine.runner.checkpoint import (CheckpointLoader, get_external_models,
                                        get_mmcls_models,
                                        get_torchvision_models)
from mmpretrain.registry import MODELS

from crafted import code_checkpoint, save_checkpoint
from dm_plugin.engine import checkpoint as safe
from dm_plugin.engine.checkpoint import UnsafeCheckpointError


def first_http(models: dict) -> str:
    return next(name for name, url in models.items()
                if url.startswith('https://'))


OPENMMLAB = first_http(get_external_models())
MMCLS = first_http(get_mmcls_models())
SOURCES = {  # what a config names -> the URL it is downloaded from
    'https://example.com/weights/model-0123abcd.pth':
    'https://example.com/weights/model-0123abcd.pth',
    'http://example.com/model.pth': 'http://example.com/model.pth',
    'torchvision://resnet18': get_torchvision_models()['resnet18'],
    'modelzoo://resnet18': get_torchvision_models()['resnet18'],
    f'open-mmlab://{OPENMMLAB}': get_external_models()[OPENMMLAB],
    f'openmmlab://{OPENMMLAB}': get_external_models()[OPENMMLAB],
    f'mmcls://{MMCLS}': get_mmcls_models()[MMCLS],
}


def refuse_download(url, dst, *args, **kwargs):
    raise AssertionError(f'a test tried to download {url}')


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    """A temporary torch hub cache (``$TORCH_HOME/hub/checkpoints``), where
    torch.hub and mmengine put downloaded checkpoints; downloading fails."""
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    cache = tmp_path / 'torch' / 'hub' / 'checkpoints'
    cache.mkdir(parents=True)
    assert osp.samefile(torch.hub.get_dir(), cache.parent)
    monkeypatch.setattr(torch.hub, 'download_url_to_file', refuse_download)
    return cache


def cached(cache, url: str) -> str:
    return str(cache / osp.basename(url))


@pytest.mark.parametrize('source', list(SOURCES))
def test_crafted_file_in_the_hub_cache_is_refused(hub_cache, tmp_path,
                                                  source):
    marker = str(tmp_path / 'pwned')
    path = code_checkpoint(cached(hub_cache, SOURCES[source]), marker)
    with pytest.raises(UnsafeCheckpointError, match=osp.basename(path)):
        CheckpointLoader.load_checkpoint(source, map_location='cpu')
    assert not osp.exists(marker)


def test_crafted_download_is_refused(hub_cache, tmp_path, monkeypatch):
    """Nothing cached: the file the download writes is loaded safely."""
    marker = str(tmp_path / 'pwned')
    downloads = []

    def download(url, dst, hash_prefix=None, progress=True):
        downloads.append(url)
        code_checkpoint(dst, marker)

    monkeypatch.setattr(torch.hub, 'download_url_to_file', download)
    with pytest.raises(UnsafeCheckpointError):
        CheckpointLoader.load_checkpoint('torchvision://resnet18')
    assert downloads == [SOURCES['torchvision://resnet18']]
    assert osp.isfile(cached(hub_cache, downloads[0]))
    assert not osp.exists(marker)


def test_pretrained_init_cfg_is_refused(hub_cache, tmp_path):
    """``init_cfg=dict(type='Pretrained', checkpoint='torchvision://...')``,
    as 75 configs write it."""
    marker = str(tmp_path / 'pwned')
    code_checkpoint(cached(hub_cache, SOURCES['torchvision://resnet18']),
                    marker)
    backbone = MODELS.build(
        dict(type='ResNet_CIFAR', depth=18, stem_channels=8, base_channels=8,
             init_cfg=dict(type='Pretrained',
                           checkpoint='torchvision://resnet18')))
    with pytest.raises(UnsafeCheckpointError, match='resnet18-'):
        backbone.init_weights()
    assert not osp.exists(marker)


def test_load_from_url_is_refused(hub_cache, runner_cfg, tmp_path):
    marker = str(tmp_path / 'pwned')
    source = f'open-mmlab://{OPENMMLAB}'
    code_checkpoint(cached(hub_cache, SOURCES[source]), marker)
    cfg = runner_cfg(max_iters=1)
    cfg['load_from'] = source
    with pytest.raises(UnsafeCheckpointError):
        Runner.from_cfg(cfg).train()
    assert not osp.exists(marker)


def test_openmmlab_local_entry_is_refused(tmp_path, monkeypatch):
    """open_mmlab.json in ``$MMENGINE_HOME`` may name a file there."""
    monkeypatch.setenv('MMENGINE_HOME', str(tmp_path))
    with open(tmp_path / 'open_mmlab.json', 'w') as f:
        json.dump(dict(mine='mine.pth'), f)
    marker = str(tmp_path / 'pwned')
    code_checkpoint(tmp_path / 'mine.pth', marker)
    with pytest.raises(UnsafeCheckpointError, match='mine.pth'):
        CheckpointLoader.load_checkpoint('openmmlab://mine')
    assert not osp.exists(marker)


def test_s3_and_pavi_are_refused(tmp_path, monkeypatch):
    marker = str(tmp_path / 'pwned')
    crafted = code_checkpoint(tmp_path / 'evil.pth', marker)
    backend = types.SimpleNamespace(get=lambda name: open(crafted,
                                                          'rb').read())
    monkeypatch.setattr(safe, 'get_file_backend',
                        lambda name, backend_args: backend)
    with pytest.raises(UnsafeCheckpointError, match='s3://bucket/evil.pth'):
        CheckpointLoader.load_checkpoint('s3://bucket/evil.pth')

    def download(dst):
        with open(crafted, 'rb') as src, open(dst, 'wb') as out:
            out.write(src.read())

    modelcloud = types.SimpleNamespace(get=lambda path: types.SimpleNamespace(
        name='evil.pth', download=download))
    monkeypatch.setitem(sys.modules, 'pavi',
                        types.SimpleNamespace(modelcloud=modelcloud))
    with pytest.raises(UnsafeCheckpointError, match='evil.pth'):
        CheckpointLoader.load_checkpoint('pavi://models/evil')
    assert not osp.exists(marker)


def test_every_scheme_is_safe():
    """No mmengine loader is left registered (a new mmengine scheme fails
    this test until it is replaced)."""
    for prefix, loader in CheckpointLoader._schemes.items():
        assert loader.__module__ == safe.__name__, prefix


@pytest.mark.parametrize('source', list(SOURCES))
def test_plain_weights_load_without_torch_hub(hub_cache, monkeypatch,
                                              source):
    """A real checkpoint loads by every scheme, without touching torch's or
    mmengine's URL loaders (which load with ``weights_only=False``)."""
    def unreachable(*args, **kwargs):
        raise AssertionError('an unsafe URL loader was called')

    monkeypatch.setattr(torch.hub, 'load_state_dict_from_url', unreachable)
    monkeypatch.setattr(mmengine_checkpoint, 'load_url', unreachable)
    monkeypatch.setattr(mmengine_checkpoint, 'load_from_http', unreachable)
    save_checkpoint(cached(hub_cache, SOURCES[source]),
                    state_dict={'backbone.fc.weight': torch.ones(3)})
    checkpoint = CheckpointLoader.load_checkpoint(source)
    weights = checkpoint['state_dict']
    # mmcls:// checkpoints are renamed to mmpretrain's keys
    assert list(weights) == (['fc.weight'] if source.startswith('mmcls')
                             else ['backbone.fc.weight'])
    assert torch.equal(next(iter(weights.values())), torch.ones(3))
