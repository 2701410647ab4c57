"""AttentiveMix: attention from the classifier itself or from a pretrained
network given by config (a tiny ResNet built here, its weights saved to a
temporary file), the cells it pastes, and the safe loading of the weights.
The contract shared by every dynamic mixer is in test_dynamic_mixers.py."""
import os
import os.path as osp
import shutil
import types
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.runner.checkpoint import get_torchvision_models
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from conftest import Payload
from test_dynamic_mixers import (check_mixed_scores, constant_images,
                                 mixer_and_model, partners, tiny_classifier)

from dm_plugin.engine.checkpoint import UnsafeCheckpointError
from dm_plugin.models.mixers.dynamic import AttentiveMix
from dm_plugin.registry import build_mixer

CONFIG_DIR = Path(__file__).resolve().parents[3] / 'configs'
# The attention network of these tests: a narrow ResNet-18 (CIFAR variant).
NET = dict(type='ResNet_CIFAR', depth=18, stem_channels=8, base_channels=8)


def saved_net(folder, cfg=NET, seed=0, wrap=None):
    """A freshly initialised attention network and the file holding its
    state dict (``wrap(state)`` saved instead, when given)."""
    torch.manual_seed(seed)
    net = MODELS.build(cfg)
    state = net.state_dict()
    path = osp.join(folder, f'attention_{seed}.pth')
    torch.save(wrap(state) if wrap else state, path)
    return net, path


def plus_cfg(path, **kwargs):
    """AttentiveMix+ with the test network."""
    cfg = dict(type='AttentiveMix', alpha=2.0, grid_size=None, top_k=None,
               attention_net=NET, attention_checkpoint=path,
               attention_size=None)
    return dict(cfg, **kwargs)


def reference_attention(net, inputs, size=None):
    """(N, h, w) channel mean of ``net``'s last feature map on the inputs
    resized bilinearly by ``size / H`` (as OpenMixup feeds backbone_k)."""
    if size is not None:
        inputs = F.interpolate(inputs, scale_factor=size / inputs.size(2),
                               mode='bilinear', align_corners=False)
    with torch.no_grad():
        return net(inputs)[-1].mean(1)


def check_pasted_top_cells(mixer, inputs, mixed, mixed_scores, attention):
    """Row i shows its partner j exactly on j's ``k`` most attended cells
    (whole cells), k read off the scores."""
    _, _, height, width = inputs.shape
    gh, gw = attention.shape[1:]
    index, own = partners(mixed_scores)
    rows = torch.arange(height) * gh // height
    cols = torch.arange(width) * gw // width
    for i, j in enumerate(index.tolist()):
        if i == j:
            continue
        pasted = (mixed[i] != inputs[i]).any(0)
        cells = torch.zeros(gh, gw, dtype=torch.long).index_put_(
            (rows[:, None].expand(height, width),
             cols[None].expand(height, width)), pasted.long(),
            accumulate=True)
        size = torch.zeros(gh, gw, dtype=torch.long).index_put_(
            (rows[:, None].expand(height, width),
             cols[None].expand(height, width)),
            torch.ones(height, width, dtype=torch.long), accumulate=True)
        whole = cells == size
        assert ((cells == 0) | whole).all()
        top = attention[j].flatten().topk(int(whole.sum())).indices
        assert set(whole.flatten().nonzero().flatten().tolist()) == set(
            top.tolist())
        torch.testing.assert_close(mixed[i][:, pasted], inputs[j][:, pasted])
        torch.testing.assert_close(own[i], 1 - pasted.float().mean())


# ------------------------------------------------ pretrained attention


def test_pretrained_network_is_loaded_and_frozen(tmp_path):
    net, path = saved_net(tmp_path)
    mixer, model = mixer_and_model(plus_cfg(path))
    assert not any(p.requires_grad for p in mixer.attention_net.parameters())
    mixer(torch.randn(4, 3, 16, 16), torch.eye(6)[:4], model=model)
    loaded = dict(mixer.attention_net.named_parameters())
    for key, value in net.named_parameters():
        torch.testing.assert_close(loaded[key], value, rtol=0, atol=0)
    samples = [DataSample().set_gt_label(k % 6) for k in range(4)]
    model.train()
    sum(v for k, v in model.loss(torch.randn(4, 3, 16, 16), samples).items()
        if 'loss' in k).backward()
    assert all(p.grad is None for p in mixer.attention_net.parameters())
    assert model.head.fc.weight.grad is not None


@pytest.mark.parametrize('train', [True, False])
@pytest.mark.parametrize('size', [None, 24])
def test_attention_is_the_pretrained_feature_mean(tmp_path, train, size):
    """The channel mean of the network's last feature map on the (resized)
    inputs; in training its BatchNorm uses the batch's statistics, as
    OpenMixup's backbone_k does."""
    net, path = saved_net(tmp_path)
    mixer, model = mixer_and_model(plus_cfg(path, attention_size=size))
    model.train(train)
    net.train(train)
    inputs = torch.randn(5, 3, 16, 16)
    attention = mixer.attention(model, inputs)
    expected = reference_attention(net, inputs, size)
    assert attention.shape == (5, 2, 2) if size is None else (5, 3, 3)
    torch.testing.assert_close(attention, expected)


@pytest.mark.parametrize('mode', ['batch', 'elem', 'pair'])
def test_plus_pastes_the_partners_top_cells(tmp_path, mode):
    net, path = saved_net(tmp_path)
    mixer, model = mixer_and_model(
        plus_cfg(path, attention_size=32, mode=mode))
    net.train()
    torch.manual_seed(10)
    inputs = torch.randn(6, 3, 16, 16)
    mixed, mixed_scores = mixer(inputs, torch.eye(6), model=model)
    check_mixed_scores(mixed_scores, 6, pair=mode == 'pair')
    attention = reference_attention(net, inputs, 32)
    assert attention.shape == (6, 4, 4)
    check_pasted_top_cells(mixer, inputs, mixed, mixed_scores, attention)


@pytest.mark.parametrize('lam, cells', [(0.99, 1), (0.9, 1), (0.6, 6),
                                        (0.5, 8), (0.26, 11), (0.0, 16)])
def test_top_k_none_pastes_floor_of_the_partners_share(tmp_path, lam, cells):
    """OpenMixup's AttentiveMix+: k = floor(cells * u), at least 1, with u
    ~ Beta(alpha, alpha) the attention donor's share (here 1 - λ: the
    partner gives the cells)."""
    _, path = saved_net(tmp_path)
    mixer, model = mixer_and_model(plus_cfg(path, attention_size=32))
    mixer.sample_lam = lambda index: torch.full((len(index), ), lam)
    _, mixed_scores = mixer(constant_images(6), torch.eye(6), model=model)
    index, own = partners(mixed_scores)
    moved = index != torch.arange(6)
    torch.testing.assert_close(own[moved],
                               torch.full_like(own[moved], 1 - cells / 16))


def test_classifier_reads_the_weights_at_init_weights(tmp_path):
    """Building reads nothing; ``init_weights()`` (the Runner's) reads the
    file; the weights are saved with the classifier."""
    net, path = saved_net(tmp_path, seed=1)
    model = tiny_classifier(mixer=plus_cfg(path))
    mixer = model.mixers[0]
    key = 'layer1.0.conv1.weight'
    assert not torch.equal(mixer.attention_net.state_dict()[key],
                           net.state_dict()[key])
    model.init_weights()
    for name, value in net.state_dict().items():
        torch.testing.assert_close(mixer.attention_net.state_dict()[name],
                                   value, rtol=0, atol=0)
    assert f'mixers.0.attention_net.{key}' in model.state_dict()


def test_classifier_checkpoint_needs_its_prefix(tmp_path):
    """An mmengine classifier checkpoint holds the network under
    ``state_dict`` with a ``backbone.`` prefix."""
    net, path = saved_net(
        tmp_path, wrap=lambda state: dict(
            meta=dict(epoch=1),
            state_dict={f'backbone.{k}': v for k, v in state.items()}))
    mixer, model = mixer_and_model(plus_cfg(path,
                                            attention_prefix='backbone.'))
    mixer(torch.randn(2, 3, 16, 16), torch.eye(6)[:2], model=model)
    torch.testing.assert_close(mixer.attention_net.conv1.weight,
                               net.conv1.weight)
    mixer, model = mixer_and_model(plus_cfg(path))
    with pytest.raises(KeyError, match="attention_prefix"):
        mixer(torch.randn(2, 3, 16, 16), torch.eye(6)[:2], model=model)


def test_wrong_network_names_the_key_and_shapes(tmp_path):
    wider = dict(NET, base_channels=16)
    _, path = saved_net(tmp_path, cfg=wider)
    mixer, model = mixer_and_model(plus_cfg(path))
    with pytest.raises(ValueError, match=r'attention_0.pth.*layer1.0.conv1'
                       r'.weight has shape \(16, 8, 3, 3\) but the attention '
                       r'network expects \(8, 8, 3, 3\)'):
        mixer(torch.randn(2, 3, 16, 16), torch.eye(6)[:2], model=model)


def test_a_checkpoint_that_runs_code_is_refused(tmp_path):
    marker = tmp_path / 'pwned'
    path = str(tmp_path / 'evil.pth')
    torch.save(dict(weight=torch.ones(2),
                    note=Payload(os.system, f'touch {marker}')), path)
    mixer, model = mixer_and_model(plus_cfg(path))
    with pytest.raises(UnsafeCheckpointError, match='evil.pth'):
        mixer(torch.randn(2, 3, 16, 16), torch.eye(6)[:2], model=model)
    assert not marker.exists()


def test_missing_checkpoint_names_the_file(tmp_path):
    path = str(tmp_path / 'absent.pth')
    mixer, model = mixer_and_model(plus_cfg(path))
    with pytest.raises(FileNotFoundError, match='absent.pth'):
        mixer(torch.randn(2, 3, 16, 16), torch.eye(6)[:2], model=model)


TORCHVISION_R18 = get_torchvision_models()['resnet18']


@pytest.fixture
def downloads(tmp_path, monkeypatch):
    """A temporary torch hub cache; a download records its URL and writes
    the file ``downloads.serve`` (a path) gives, without any network."""
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    record = types.SimpleNamespace(urls=[], serve=None)

    def download(url, dst, hash_prefix=None, progress=True):
        record.urls.append(url)
        shutil.copyfile(record.serve, dst)

    monkeypatch.setattr(torch.hub, 'download_url_to_file', download)
    return record


@pytest.mark.parametrize('source, url', [
    ('torchvision://resnet18', TORCHVISION_R18),
    ('https://example.com/weights/net-0123abcd.pth',
     'https://example.com/weights/net-0123abcd.pth'),
])
def test_weights_load_from_an_mmengine_source(tmp_path, downloads, source,
                                              url):
    """``attention_checkpoint`` takes what mmengine's CheckpointLoader takes
    (OpenMixup's ``pretrained_k="torchvision://resnet50"``): downloaded once
    into torch's hub cache, then read from there."""
    net, downloads.serve = saved_net(tmp_path)
    for _ in range(2):
        mixer, model = mixer_and_model(plus_cfg(source))
        mixer(torch.randn(2, 3, 16, 16), torch.eye(6)[:2], model=model)
        loaded = dict(mixer.attention_net.named_parameters())
        for key, value in net.named_parameters():
            torch.testing.assert_close(loaded[key], value, rtol=0, atol=0)
    assert downloads.urls == [url]
    assert osp.isfile(osp.join(torch.hub.get_dir(), 'checkpoints',
                               osp.basename(url)))


def test_a_downloaded_checkpoint_that_runs_code_is_refused(tmp_path,
                                                           downloads):
    marker = tmp_path / 'pwned'
    downloads.serve = str(tmp_path / 'evil.pth')
    torch.save(dict(weight=torch.ones(2),
                    note=Payload(os.system, f'touch {marker}')),
               downloads.serve)
    mixer, model = mixer_and_model(plus_cfg('torchvision://resnet18'))
    with pytest.raises(UnsafeCheckpointError,
                       match=osp.basename(TORCHVISION_R18)):
        mixer(torch.randn(2, 3, 16, 16), torch.eye(6)[:2], model=model)
    assert not marker.exists()


def test_unknown_model_zoo_name_is_named():
    mixer, model = mixer_and_model(plus_cfg('torchvision://resnet19'))
    with pytest.raises(KeyError, match='resnet19'):
        mixer(torch.randn(2, 3, 16, 16), torch.eye(6)[:2], model=model)


@pytest.mark.parametrize('cfg, error, message', [
    (dict(attention_net=NET), ValueError, 'needs attention_checkpoint'),
    (dict(attention_checkpoint='w.pth'), ValueError, 'without '
     'attention_net'),
    (dict(attention_net='ResNet', attention_checkpoint='w.pth'), TypeError,
     'backbone config'),
    (dict(attention_net=NET, attention_checkpoint='w.pth',
          attention_size=0), ValueError, 'attention_size'),
    (dict(attention_net=NET, attention_checkpoint='w.pth',
          attention_prefix=None), TypeError, 'attention_prefix'),
])
def test_bad_arguments_name_the_argument(cfg, error, message):
    with pytest.raises(error, match=message):
        build_mixer(dict(type='AttentiveMix', **cfg))


# --------------------------------------------------- self-attention


def test_self_attention_pastes_the_partners_top_cells():
    torch.manual_seed(10)
    mixer, model = mixer_and_model(
        dict(type='AttentiveMix', grid_size=4, top_k=3))
    inputs = torch.randn(6, 3, 16, 16)
    attention = mixer.attention(model, inputs)
    mixed, mixed_scores = mixer(inputs, torch.eye(6), model=model)
    check_pasted_top_cells(mixer, inputs, mixed, mixed_scores, attention)
    index, own = partners(mixed_scores)
    moved = index != torch.arange(6)
    torch.testing.assert_close(own[moved],
                               torch.full_like(own[moved], 1 - 3 / 16))


def test_self_attention_lambda_sets_the_cell_count():
    torch.manual_seed(11)
    mixer, model = mixer_and_model(
        dict(type='AttentiveMix', grid_size=4, top_k=None, mode='elem'))
    _, mixed_scores = mixer(constant_images(6), torch.eye(6), model=model)
    index, own = partners(mixed_scores)
    moved = index != torch.arange(6)
    cells = (1 - own[moved]) * 16
    torch.testing.assert_close(cells, cells.round())
    assert (cells >= 1).all()


def test_needs_a_feature_map():
    mixer = AttentiveMix()
    model = tiny_classifier()
    model.backbone.forward = lambda x: (x.mean((2, 3)), )
    with pytest.raises(ValueError, match='spatial feature map'):
        mixer(torch.randn(2, 3, 16, 16), torch.eye(6)[:2], model=model)


# -------------------------------------------------------------- configs


@pytest.mark.parametrize(
    'path', sorted(CONFIG_DIR.glob('*/*_attentivemix_*.py')),
    ids=lambda p: f'{p.parent.name}/{p.name}')
def test_configs_are_openmixups_attentivemix_plus(path):
    """alpha 2, the feature map's own grid, k drawn from λ, an ImageNet
    ResNet-18 (ResNet-50 on the fine-grained sets) on 224-pixel inputs;
    the header names the OpenMixup config."""
    cfg = Config.fromfile(str(path))
    mixer = cfg.model.mixer
    assert (mixer.alpha, mixer.grid_size, mixer.top_k) == (2.0, None, None)
    depth = 50 if path.parent.name in ('cub200', 'aircraft') else 18
    assert mixer.attention_net == dict(type='ResNet', depth=depth)
    assert mixer.attention_checkpoint == f'torchvision://resnet{depth}'
    assert mixer.get('attention_size', 224) == 224
    assert 'configs/classification/' in path.read_text()
