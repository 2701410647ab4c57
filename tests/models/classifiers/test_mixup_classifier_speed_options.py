"""MixupClassifier's channels_last and compile options: the same training
as without them, checkpoint keys unchanged."""
import copy

import numpy as np
import pytest
import torch
from mmengine.optim import OptimWrapper
from mmpretrain.registry import MODELS

CFG = dict(
    type='MixupClassifier',
    data_preprocessor=dict(
        type='BatchTransformPreprocessor', mean=[127.] * 3, std=[60.] * 3,
        transforms=[dict(type='RandomCrop', crop_size=16, padding=2)]),
    backbone=dict(type='ResNet_CIFAR', depth=18, stem_channels=8,
                  base_channels=8),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='DMClsHead', num_classes=3, in_channels=64,
              loss=dict(type='DecoupledMixupLoss', eta=0.1)),
    mixer=dict(type='Mixup', alpha=1.0))


def train(**options):
    """Three steps from the same weights and seeds: losses and weights."""
    torch.manual_seed(0)
    model = MODELS.build(dict(copy.deepcopy(CFG), **options))
    model.init_weights()
    optim_wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    batch = dict(inputs=torch.randint(0, 256, (6, 3, 16, 16),
                                      dtype=torch.uint8),
                 gt_label=torch.arange(6) % 3)
    torch.manual_seed(1)
    np.random.seed(1)
    losses = [model.train_step(dict(batch), optim_wrapper)['loss'].item()
              for _ in range(3)]
    return model, losses


def test_channels_last_trains_like_the_default_layout():
    model, losses = train(channels_last=True)
    reference, reference_losses = train()
    weight = model.backbone.conv1.weight
    assert weight.is_contiguous(memory_format=torch.channels_last)
    assert not weight.is_contiguous()
    seen = []
    model.backbone.register_forward_pre_hook(
        lambda module, args: seen.append(args[0]))
    model(torch.randn(2, 3, 16, 16))
    assert seen[0].is_contiguous(memory_format=torch.channels_last)
    np.testing.assert_allclose(losses, reference_losses, rtol=1e-4)
    assert list(model.state_dict()) == list(reference.state_dict())


def test_compiled_backbone_trains_like_eager():
    """The eager backend checks the capture (graphs, guards) quickly; the
    inductor backend was checked by hand on CPU (docs/benchmarks.md)."""
    model, losses = train(compile=dict(backend='eager'))
    reference, reference_losses = train()
    assert losses == reference_losses
    assert list(model.state_dict()) == list(reference.state_dict())


def test_bad_options_are_named():
    with pytest.raises(TypeError, match='channels_last must be a bool'):
        MODELS.build(dict(CFG, channels_last='yes'))
    with pytest.raises(TypeError, match='compile must be a bool or a dict'):
        MODELS.build(dict(CFG, compile='inductor'))
