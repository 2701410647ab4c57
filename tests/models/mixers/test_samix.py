"""Tests of SAMix: its Mix Block against a naive reference written from the
authors' ``PixelMixBlock`` (λ rescaling and embedding, queries and keys on
both samples, non-linear value network), its defaults, and training through
the Runner (Mix Block trained, momentum encoder not). What it shares with
AutoMix is tested in test_automix.py.
"""
import math

import pytest
import torch
import torch.nn.functional as F
from mmengine.hooks import Hook
from mmengine.runner import Runner
from mmpretrain.registry import HOOKS

from dm_plugin.engine import load_checkpoint_file
from dm_plugin.models.mixers.dynamic import SAMixBlock
from dm_plugin.models.mixers.dynamic.mix_block import rescale_lam
from dm_plugin.registry import build_mixer
from mix_block_reference import conv1x1, naive_attention


def openmixup_rescale(lam, k):
    """``rescale_lam_mult`` of the authors' PixelMixBlock, on a float."""
    k += 1
    return 1 / (k - 2 / 3) * (4 / 3 * lam**3 - 2 * lam**2 + k * lam)


@pytest.mark.parametrize('k', [0., 0.25, 1.])
def test_lambda_rescaling(k):
    lams = torch.linspace(0, 1, 21, dtype=torch.float64)
    rescaled = rescale_lam(lams, k)
    for lam, value in zip(lams.tolist(), rescaled.tolist()):
        assert math.isclose(value, openmixup_rescale(lam, k), abs_tol=1e-12)
    torch.testing.assert_close(
        rescale_lam(torch.tensor([0., 0.5, 1.], dtype=torch.float64), k),
        torch.tensor([0., 0.5, 1.], dtype=torch.float64))
    assert (rescaled.diff() >= 0).all()
    # Small λ is pulled towards 1/2, less so for larger k.
    assert rescaled[2] > lams[2]
    assert rescale_lam(lams, 10.)[2] < rescaled[2]


def naive_samix_block(block, feats, lam, index, k):
    """The Mixer written out: λ embedding, [a, b] queries and keys, value
    network with batch-statistics BatchNorm, per-position softmax."""
    lam = lam.view(-1, 1, 1, 1)
    lam = lam if k is None else torch.tensor(
        [openmixup_rescale(v, k) for v in lam.flatten().tolist()]).view(
            -1, 1, 1, 1)
    own = feats * (1 + lam)
    partner = feats[index] * (1 + (1 - lam))
    pair = torch.cat([own, partner], 1)
    query = conv1x1(block.query.weight, pair, block.query.bias)
    key = conv1x1(block.key.weight, pair, block.key.bias)
    conv_in, norm, _, conv_out, _ = block.value
    hidden = conv1x1(conv_in.weight, partner)
    mean = hidden.mean((0, 2, 3), keepdim=True)
    var = hidden.var((0, 2, 3), correction=0, keepdim=True)
    hidden = (hidden - mean) / torch.sqrt(var + norm.eps)
    hidden = hidden * norm.weight.view(1, -1, 1, 1) + norm.bias.view(
        1, -1, 1, 1)
    value = conv1x1(conv_out.weight, F.elu(hidden))
    return naive_attention(query, key, value)


@pytest.mark.parametrize('k', [None, 0.25, 1.])
def test_samix_block_against_a_naive_reference(k):
    torch.manual_seed(3)
    block = SAMixBlock(8, lam_rescale_k=k)
    for param in block.parameters():
        torch.nn.init.normal_(param, std=0.5)
    feats, index = torch.randn(3, 8, 3, 4), torch.tensor([1, 2, 0])
    lam = torch.tensor([0.2, 0.5, 0.9])
    expected = naive_samix_block(block, feats, lam, index, k)
    torch.testing.assert_close(block(feats, lam, index), expected)
    assert not torch.allclose(block(feats, 1 - lam, index), expected)
    assert block.query.in_channels == block.key.in_channels == 16
    assert block.embed_channels == 4
    assert block.value[0].out_channels == 4  # C / 2 hidden channels


def test_value_dropout_only_in_training():
    torch.manual_seed(4)
    block = SAMixBlock(8, value_dropout=0.5)
    feats, index = torch.randn(2, 8, 3, 3), torch.tensor([1, 0])
    lam = torch.full((2, ), 0.4)
    assert not torch.equal(block(feats, lam, index),
                           block(feats, lam, index))
    block.eval()
    torch.testing.assert_close(block(feats, lam, index),
                               block(feats, lam, index), rtol=0, atol=0)


def test_defaults_are_the_authors_cifar100_800_epoch_settings():
    samix = build_mixer(dict(type='SAMix', in_channels=256))
    block = samix.mix_block
    assert isinstance(block, SAMixBlock)
    assert (block.lam_rescale_k, block.value[-1].p) == (0.25, 0.)
    assert (samix.upsample, samix.mask_loss_mode, samix.mask_adjust,
            samix.mask_margin, samix.mask_loss_weight) == ('bilinear',
                                                           'L1+Variance',
                                                           0.25, 0.1, 0.1)
    assert (samix.alpha, samix.momentum, samix.end_momentum,
            samix.lam_margin, samix.one_hot_loss_weight) == (2., 0.999,
                                                            0.999999, 0.08,
                                                            1.)


@HOOKS.register_module()
class RecordMixBlockGradsHook(Hook):
    """Sum of the absolute gradients reaching the Mix Block, per
    iteration, recorded as the backward computes them."""

    def __init__(self):
        self.grads = []

    def before_train(self, runner):
        for param in runner.model.mixers[0].mix_block.parameters():
            param.register_hook(
                lambda grad: self.grads.append(float(grad.abs().sum())))


def test_samix_trains_through_the_runner(runner_cfg):
    model = dict(
        type='MixupClassifier',
        data_preprocessor=dict(
            type='ClsDataPreprocessor', num_classes=3, mean=[127.5] * 3,
            std=[127.5] * 3),
        backbone=dict(type='ResNet_CIFAR', depth=18, stem_channels=8,
                      base_channels=8),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='DMClsHead', num_classes=3, in_channels=64),
        mixer=dict(type='SAMix', in_channels=32, value_dropout=0.1))
    cfg = runner_cfg(max_iters=3, model=model)
    cfg.update(custom_hooks=[dict(type='MixerProgressHook'),
                             dict(type='RecordMixBlockGradsHook')],
               val_dataloader=None, val_cfg=None, val_evaluator=None)
    runner = Runner.from_cfg(cfg)
    mixer = runner.model.mixers[0]
    block_before = [p.detach().clone() for p in mixer.mix_block.parameters()]
    runner.train()
    encoder = mixer.momentum_encoder

    logged = runner.message_hub.log_scalars
    for key in ('loss', 'loss_mce', 'loss_mix_block', 'loss_mask',
                'loss_one_hot', 'mix_time'):
        assert math.isfinite(logged[f'train/{key}'].current()), key
    recorder = next(h for h in runner.hooks
                    if isinstance(h, RecordMixBlockGradsHook))
    num_params = len(block_before)
    assert len(recorder.grads) == 3 * num_params
    assert sum(recorder.grads) > 0
    assert any(not torch.equal(before, after) for before, after in zip(
        block_before, mixer.mix_block.parameters()))
    assert all(not p.requires_grad and p.grad is None
               for p in encoder.parameters())
    # Not trained: it lags behind the online weights (EMA of them).
    ema = encoder['backbone'].conv1.weight
    online = runner.model.backbone.conv1.weight
    assert 0 < (ema - online).abs().max() < 0.05 * online.abs().max()
    saved = load_checkpoint_file(f'{runner.work_dir}/iter_3.pth')['state_dict']
    for prefix in ('mixers.0.mix_block.value.1.running_mean',
                   'mixers.0.one_hot_head.fc.weight',
                   'mixers.0.momentum_encoder.backbone.conv1.weight',
                   'mixers.0.momentum_encoder.one_hot_head.fc.weight'):
        assert prefix in saved
