import pytest
import torch
import torch.nn as nn
from mmpretrain.registry import MODELS

from dm_plugin.models.backbones.wide_resnet import PreActBlock


def build(**kwargs):
    cfg = dict(type='WideResNet', depth=28, widen_factor=2)
    cfg.update(kwargs)
    return MODELS.build(cfg)


def naive_param_count(depth, k, in_channels=3):
    """Parameters of WRN-depth-k counted layer by layer from the paper's
    layout: stem conv, 3 groups of n pre-activation blocks, final BN."""
    n = (depth - 4) // 6
    total = 16 * in_channels * 9
    channels = 16
    for width in (16 * k, 32 * k, 64 * k):
        for block in range(n):
            total += 2 * channels  # BN 1
            total += channels * width * 9  # conv 1
            total += 2 * width  # BN 2
            total += width * width * 9  # conv 2
            if channels != width:
                total += channels * width  # 1x1 shortcut
            channels = width
    return total + 2 * channels  # final BN


@pytest.mark.parametrize('depth, k', [(28, 2), (28, 8), (16, 4), (10, 1)])
def test_parameter_count_matches_layout(depth, k):
    model = build(depth=depth, widen_factor=k)
    assert sum(p.numel() for p in model.parameters()) == \
        naive_param_count(depth, k)


def test_wrn_28_2_size_is_fixmatch_size():
    # FixMatch reports 1.47M parameters for WRN-28-2 with a 10-way classifier.
    total = naive_param_count(28, 2) + 128 * 10 + 10
    assert total == 1_467_610


def test_output_shapes_of_all_groups():
    model = build(depth=10, widen_factor=2, out_indices=(0, 1, 2))
    outs = model(torch.randn(2, 3, 32, 32))
    assert [tuple(o.shape) for o in outs] == [(2, 32, 32, 32),
                                             (2, 64, 16, 16),
                                             (2, 128, 8, 8)]


def test_fixmatch_norm_and_activation():
    model = build()
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    acts = [m for m in model.modules() if isinstance(m, nn.LeakyReLU)]
    assert norms and all(m.momentum == 0.001 for m in norms)
    assert acts and all(m.negative_slope == 0.1 for m in acts)


def test_default_output_is_last_group_after_final_bn_and_activation():
    model = build(depth=10, widen_factor=1)
    model.eval()
    x = torch.randn(3, 3, 16, 16)
    outs = model(x)
    assert len(outs) == 1 and outs[0].shape == (3, 64, 4, 4)
    features = model.stem(x)
    for group in model.groups:
        features = group(features)
    expected = nn.functional.leaky_relu(model.final_norm(features), 0.1)
    torch.testing.assert_close(outs[0], expected)


@pytest.mark.parametrize('activate_shortcut', [True, False])
def test_preact_block_against_hand_computation(activate_shortcut):
    torch.manual_seed(0)
    block = PreActBlock(4, 6, stride=2, activate_shortcut=activate_shortcut,
                        norm_cfg=dict(type='BN'),
                        act_cfg=dict(type='LeakyReLU', negative_slope=0.1))
    block.eval()
    for norm in (block.norm1, block.norm2):
        norm.running_mean.uniform_(-1, 1)
        norm.running_var.uniform_(0.5, 2)
    x = torch.randn(2, 4, 8, 8)

    def bn_act(norm, t):
        t = (t - norm.running_mean[:, None, None]) / torch.sqrt(
            norm.running_var[:, None, None] + norm.eps)
        t = t * norm.weight[:, None, None] + norm.bias[:, None, None]
        return torch.where(t > 0, t, 0.1 * t)

    activated = bn_act(block.norm1, x)
    residual = block.conv2(bn_act(block.norm2, block.conv1(activated)))
    shortcut = block.shortcut(activated if activate_shortcut else x)
    torch.testing.assert_close(block(x), residual + shortcut)


def test_identity_shortcut_when_shapes_agree():
    block = PreActBlock(8, 8, 1, False, dict(type='BN'), dict(type='ReLU'))
    assert block.shortcut is None


@pytest.mark.parametrize('kwargs, error, message', [
    (dict(depth=27), ValueError, '6n \\+ 4'),
    (dict(depth=4), ValueError, '6n \\+ 4'),
    (dict(widen_factor=1.5), TypeError, 'widen_factor'),
    (dict(widen_factor=0), ValueError, 'widen_factor'),
    (dict(out_indices=(3, )), ValueError, 'out_indices'),
    (dict(out_indices=()), ValueError, 'out_indices'),
])
def test_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        build(**kwargs)


def test_trains_one_step():
    torch.manual_seed(0)
    model = build(depth=10, widen_factor=1)
    model.init_weights()
    head = nn.Linear(64, 3)
    optimizer = torch.optim.SGD(
        list(model.parameters()) + list(head.parameters()), lr=0.1)
    x, y = torch.randn(8, 3, 16, 16), torch.randint(0, 3, (8, ))

    def loss_fn():
        return nn.functional.cross_entropy(
            head(model(x)[-1].mean(dim=(2, 3))), y)

    before = loss_fn()
    before.backward()
    assert all(p.grad is not None for p in model.parameters())
    optimizer.step()
    assert loss_fn() < before
