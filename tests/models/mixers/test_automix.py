"""Tests of AutoMix (and of what SAMix shares with it): the mixer contract,
the published head structure, the Mix Block against a naive reference, the
mask loss, the λ-margin fallback, ``mask_adjust``, ``shuffle_no_repeat`` and
the EMA / mask-loss schedules at chosen iterations, directly and through the
Runner.

Models are ResNet_CIFAR-18 with 8 base channels (layer3: 32 channels) on
16x16 images.
"""
import math

import pytest
import torch
import torch.nn.functional as F
from mmengine.hooks import Hook
from mmengine.runner import Runner
from mmpretrain.registry import HOOKS, MODELS
from mmpretrain.structures import DataSample

from dm_plugin.models.mixers.dynamic import AutoMix, MixBlock, SAMix
from dm_plugin.models.mixers.dynamic.automix import (momentum_at,
                                                     no_repeat_index)
from dm_plugin.registry import build_mixer
from mix_block_reference import conv1x1, naive_attention

NUM_CLASSES = 6
KINDS = ['AutoMix', 'SAMix']


def classifier(mixer, in_channels=3, **backbone):
    """A MixupClassifier on a very narrow ResNet_CIFAR-18."""
    return MODELS.build(
        dict(
            type='MixupClassifier',
            backbone=dict(type='ResNet_CIFAR', depth=18, stem_channels=8,
                          base_channels=8, in_channels=in_channels,
                          **backbone),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='DMClsHead', num_classes=NUM_CLASSES,
                      in_channels=64),
            mixer=mixer))


def built(kind='AutoMix', seed=12, **kwargs):
    torch.manual_seed(seed)
    model = classifier(dict(type=kind, in_channels=32, **kwargs))
    return model.mixers[0], model


def samples(num):
    return [DataSample().set_gt_label(i % NUM_CLASSES) for i in range(num)]


def constant_images(num, size=16):
    """Image i filled with the value i + 1."""
    return torch.arange(1., num + 1).view(-1, 1, 1, 1).expand(
        num, 3, size, size).clone()


def mixed_keep(mixed, mixed_scores):
    """(M, H, W) own weight in the eye-mixed constant images of the M
    samples not drawn as their own partner."""
    rows = torch.arange(len(mixed_scores))
    others = mixed_scores.clone()
    others[rows, rows] = 0
    moved = others.amax(1) > 0
    assert moved.any()
    own, other = rows[moved] + 1., others.argmax(1)[moved] + 1.
    return (mixed[moved, 0] - other.view(-1, 1, 1)) / (own - other).view(
        -1, 1, 1)


def fixed_lams(mixer, *values):
    """Make the mixer's successive λ draws ``values`` (one per batch)."""
    draws = iter(values)
    mixer.sample_lam = lambda index: torch.full((index.numel(), ),
                                                next(draws))


# ---------------------------------------------------------------- contract


@pytest.mark.parametrize('kind', KINDS)
@pytest.mark.parametrize('mode', ['batch', 'elem', 'pair'])
def test_shapes_and_scores(kind, mode):
    mixer, model = built(kind, mode=mode)
    mixed, scores = mixer(torch.randn(6, 3, 16, 16), torch.eye(6),
                          model=model)
    assert mixed.shape == (6, 3, 16, 16)
    torch.testing.assert_close(scores.sum(1), torch.ones(6))
    assert ((scores > 0).sum(1) <= 2).all()
    assert set(mixer.pop_losses()) == {'loss_mix_block', 'loss_mask',
                                       'loss_one_hot'}
    assert mixer.pop_losses() == {}


@pytest.mark.parametrize('kind', KINDS)
def test_deterministic_under_seed_and_odd_shapes(kind):
    runs = []
    for seed in (3, 3, 4):
        mixer, model = built(kind, seed=0)
        torch.manual_seed(seed)
        runs.append(mixer(torch.randn(5, 1, 16, 24).expand(5, 3, 16, 24),
                          torch.eye(6)[:5], model=model))
    for first, second in zip(runs[0], runs[1]):
        torch.testing.assert_close(first, second, rtol=0, atol=0)
    assert not torch.equal(runs[0][1], runs[2][1])


@pytest.mark.parametrize('kind', KINDS)
def test_bad_inputs_are_refused(kind):
    mixer, model = built(kind)
    with pytest.raises(ValueError, match='4-D'):
        mixer(torch.randn(3, 16, 16), torch.eye(6)[:3], model=model)
    with pytest.raises(ValueError, match='needs the classifier'):
        mixer(torch.randn(4, 3, 16, 16), torch.eye(6)[:4])
    with pytest.raises(ValueError, match='num_classes mismatch'):
        mixer(torch.randn(4, 3, 16, 16), torch.eye(4), model=model)


@pytest.mark.parametrize('cfg, error, message', [
    (dict(type='AutoMix'), TypeError, 'in_channels'),
    (dict(type='AutoMix', in_channels=0), ValueError, 'in_channels'),
    (dict(type='AutoMix', in_channels=32, alpha=0), ValueError, 'alpha'),
    (dict(type='AutoMix', in_channels=32, momentum=1.5), ValueError,
     'momentum'),
    (dict(type='AutoMix', in_channels=32, end_momentum=0.99), ValueError,
     'end_momentum must be >= 0.999'),
    (dict(type='AutoMix', in_channels=32, lam_margin=0.6), ValueError,
     'lam_margin'),
    (dict(type='AutoMix', in_channels=32, upsample='area'), ValueError,
     'upsample'),
    (dict(type='AutoMix', in_channels=32, mask_loss_mode='L2'), ValueError,
     'mask_loss_mode'),
    (dict(type='AutoMix', in_channels=32, mask_loss_anneal='linear'),
     ValueError, 'mask_loss_anneal'),
    (dict(type='AutoMix', in_channels=32, mask_adjust=1.5), ValueError,
     'mask_adjust'),
    (dict(type='AutoMix', in_channels=32, lam_concat=1), TypeError,
     'lam_concat'),
    (dict(type='AutoMix', in_channels=32, shuffle_no_repeat=True,
          mode='pair'), ValueError, 'shuffle_no_repeat'),
    (dict(type='SAMix', in_channels=32, lam_concat=True), TypeError,
     'lam_concat'),
    (dict(type='SAMix', in_channels=1), ValueError, 'in_channels'),
    (dict(type='SAMix', in_channels=32, lam_rescale_k=-1), ValueError,
     'lam_rescale_k'),
    (dict(type='SAMix', in_channels=32, value_dropout=1.), ValueError,
     'value_dropout'),
])
def test_bad_arguments_name_the_argument(cfg, error, message):
    with pytest.raises(error, match=message):
        build_mixer(cfg)


def test_errors_name_the_fix():
    with pytest.raises(ValueError, match="feature_layer='layer9'.*layer3"):
        built(feature_layer='layer9')
    _, model = built()
    model.mixers[0].in_channels = 256
    with pytest.raises(ValueError, match='set in_channels=32'):
        model.loss(torch.randn(2, 3, 16, 16), samples(2))


def test_defaults_are_the_authors_cifar_settings():
    auto = build_mixer(dict(type='AutoMix', in_channels=256))
    assert (auto.alpha, auto.mode, auto.feature_layer) == (2., 'batch',
                                                           'layer3')
    assert (auto.momentum, auto.end_momentum,
            auto.momentum_ramp_begin) == (0.999, 0.999999, 0.1)
    assert (auto.mask_loss_weight, auto.mask_loss_mode, auto.mask_margin,
            auto.mask_loss_anneal) == (0.1, 'L1', 0.1, None)
    assert (auto.lam_margin, auto.mask_adjust, auto.upsample,
            auto.one_hot_loss_weight) == (0.08, 0., 'nearest', 1.)
    assert isinstance(auto.mix_block, MixBlock)
    assert not auto.mix_block.lam_concat
    assert auto.mix_block.embed_channels == 128


# ---------------------------------------------------- networks and losses


def test_head_structure_of_the_published_model():
    """Online: backbone, neck, mixup head (the classifier's) and a separate
    one-hot head; momentum encoder: EMA copies of all four, frozen."""
    mixer, model = built()
    head = mixer.one_hot_head
    assert type(head) is type(model.head) and head is not model.head
    assert not torch.equal(head.fc.weight, model.head.fc.weight)
    encoder = mixer.momentum_encoder
    assert set(encoder) == {'backbone', 'neck', 'head', 'one_hot_head'}
    assert all(not p.requires_grad for p in encoder.parameters())
    for name, online in (('backbone', model.backbone), ('head', model.head),
                         ('one_hot_head', head)):
        for ema, param in zip(encoder[name].parameters(),
                              online.parameters()):
            assert ema is not param
            torch.testing.assert_close(ema, param)
    assert built(one_hot_loss_weight=0.)[0].one_hot_head is None


def test_each_loss_trains_its_own_networks():
    mixer, model = built()
    inputs = torch.randn(4, 3, 16, 16)
    for keys, trained in [
        (['loss_mix_block', 'loss_mask'], {'mix_block'}),
        (['loss_one_hot'], {'backbone', 'one_hot_head'}),
        (['loss_mce', 'loss_dr'], {'backbone', 'head'}),
    ]:
        model.zero_grad(set_to_none=True)
        losses = model.loss(inputs, samples(4))
        sum(losses[k] for k in keys).backward()
        networks = dict(mix_block=mixer.mix_block, backbone=model.backbone,
                        head=model.head, one_hot_head=mixer.one_hot_head)
        for name, network in networks.items():
            grads = [p.grad for p in network.parameters()]
            if name in trained:
                assert all(g is not None for g in grads), (keys, name)
                assert sum(g.abs().sum() for g in grads) > 0, (keys, name)
            else:
                assert all(g is None for g in grads), (keys, name)
        assert all(p.grad is None
                   for p in mixer.momentum_encoder.parameters())


def test_one_hot_loss_is_the_cross_entropy_of_the_one_hot_head():
    mixer, model = built(one_hot_loss_weight=0.5)
    inputs, data = torch.randn(4, 3, 16, 16), samples(4)
    loss = model.loss(inputs, data)['loss_one_hot']
    logits = mixer.one_hot_head(model.extract_feat(inputs))
    labels = torch.tensor([d.gt_label.item() for d in data])
    torch.testing.assert_close(loss, 0.5 * F.cross_entropy(logits, labels))


def test_mix_block_loss_is_the_momentum_heads_mixup_cross_entropy():
    mixer, model = built()
    inputs = torch.randn(4, 3, 16, 16)
    torch.manual_seed(5)
    mixer(inputs, torch.eye(6)[:4], model=model)
    loss = mixer.pop_losses()['loss_mix_block']
    torch.manual_seed(5)  # the Mix Block sample is drawn first
    index = mixer.sample_index(4, inputs.device)
    lam = mixer.sample_lam(index)
    keep = mixer.keep_mask(mixer.stage_features(inputs), lam, index,
                           (16, 16))
    mixed = keep * inputs + (1 - keep) * inputs[index]
    encoder = mixer.momentum_encoder
    logits = encoder['head'](encoder['neck'](encoder['backbone'](mixed)))
    labels = torch.arange(4)
    expected = (lam * F.cross_entropy(logits, labels, reduction='none') +
                (1 - lam) * F.cross_entropy(
                    logits, labels[index], reduction='none')).mean()
    torch.testing.assert_close(loss, expected)


@pytest.mark.parametrize('mode, variance', [('L1', False),
                                            ('L1+Variance', True)])
def test_mask_loss_is_the_hinge_on_the_batch_mean(mode, variance):
    """OpenMixup's mask loss: one hinge on the batch mean of the masks (per
    sample λ here, 'elem'), minus twice their variance in 'L1+Variance'."""
    mixer = AutoMix(in_channels=8, mask_margin=0.05, mask_loss_mode=mode)
    mixer.current_mask_loss_weight = 2.
    torch.manual_seed(6)
    keep = torch.rand(3, 1, 4, 4) * 0.6
    lam = torch.tensor([0.9, 0.1, 0.5])
    batch_mean = sum(keep[i].mean() - lam[i] for i in range(3)) / 3
    expected = 2 * max(abs(batch_mean) - 0.05, 0)
    per_sample = 2 * sum(
        max(abs(keep[i].mean() - lam[i]) - 0.05, 0) for i in range(3)) / 3
    if variance:
        flat = keep.flatten()
        expected -= 2 * 2 * ((flat - flat.mean())**2).mean()
    loss = mixer.mask_loss(keep, lam)
    torch.testing.assert_close(loss, torch.as_tensor(expected).float())
    assert abs(float(loss) - float(per_sample)) > 0.05


# ------------------------------------------------------------- Mix Block


@pytest.mark.parametrize('lam_concat', [False, True])
def test_mix_block_against_a_naive_reference(lam_concat):
    torch.manual_seed(7)
    block = MixBlock(8, lam_concat=lam_concat)
    for conv in (block.query, block.value):
        torch.nn.init.normal_(conv.weight)
    feats, index = torch.randn(3, 8, 3, 4), torch.tensor([2, 0, 1])
    lam = torch.tensor([0.3, 0.6, 0.9])
    own, partner = feats, feats[index]
    if lam_concat:
        ones = torch.ones(3, 1, 3, 4)
        own = torch.cat([own, lam.view(-1, 1, 1, 1) * ones], 1)
        partner = torch.cat([partner, (1 - lam).view(-1, 1, 1, 1) * ones], 1)
    query, value = block.query, block.value
    expected = naive_attention(conv1x1(query.weight, own, query.bias),
                               conv1x1(query.weight, partner, query.bias),
                               conv1x1(value.weight, partner, value.bias))
    torch.testing.assert_close(block(feats, lam, index), expected)
    other_lam = block(feats, 1 - lam, index)
    assert torch.allclose(block(feats, lam, index), other_lam) is (
        not lam_concat)
    assert block.query.in_channels == 8 + lam_concat


@pytest.mark.parametrize('kind, blocky', [('AutoMix', True),
                                          ('SAMix', False)])
def test_mask_upsampling_nearest_or_bilinear(kind, blocky):
    """Logits are upsampled before the sigmoid: nearest gives constant 4x4
    blocks (16 px from a 4x4 map), bilinear does not."""
    mixer, model = built(kind)
    for param in mixer.mix_block.parameters():
        torch.nn.init.normal_(param, std=0.3)
    feats = mixer.stage_features(torch.randn(3, 3, 16, 16))
    keep = mixer.keep_mask(feats, torch.full((3, ), 0.5),
                           torch.tensor([1, 2, 0]), (16, 16))
    assert keep.shape == (3, 1, 16, 16)
    assert ((keep > 0) & (keep < 1)).all()
    blocks = keep.view(3, 4, 4, 4, 4)
    spread = (blocks.amax((2, 4)) - blocks.amin((2, 4))).max()
    assert bool(spread == 0) is blocky


def test_stage_features_stop_at_the_feature_layer():
    """The encoder's clean pass stops at layer3: its layer4 runs only for
    the Mix Block sample."""
    mixer, model = built()
    calls = []
    mixer.momentum_encoder['backbone'].layer4.register_forward_hook(
        lambda *args: calls.append(1))
    feats = mixer.stage_features(torch.randn(2, 3, 16, 16))
    assert feats.shape == (2, 32, 4, 4) and calls == []
    mixer(torch.randn(2, 3, 16, 16), torch.eye(6)[:2], model=model)
    assert len(calls) == 1


# ------------------------------------------- the classifier's mixed sample


@pytest.mark.parametrize('lam, linear', [(0.05, True), (0.08, True),
                                         (0.92, True), (0.97, True),
                                         (0.2, False), (0.85, False)])
def test_lam_margin_falls_back_to_linear_mixup(lam, linear):
    """λ within lam_margin (0.08) of 0 or 1: the classifier's sample is
    plain mixup, λ x_a + (1 - λ) x_b; otherwise the Mix Block's mask (about
    0.5 everywhere at initialisation)."""
    mixer, model = built()
    fixed_lams(mixer, 0.5, lam)
    mixed, scores = mixer(constant_images(5), torch.eye(6)[:5], model=model)
    keep = mixed_keep(mixed, scores)
    assert torch.allclose(keep, torch.full_like(keep, lam),
                          atol=1e-5) is linear
    if not linear:
        assert (keep - 0.5).abs().max() < 0.05


def test_mask_adjust_rescales_each_mask_to_mean_lambda():
    mixer, model = built(mask_adjust=1.)
    for param in mixer.mix_block.parameters():
        torch.nn.init.normal_(param, std=0.3)
    for lam in (0.2, 0.7):
        fixed_lams(mixer, 0.5, lam)
        mixed, scores = mixer(constant_images(5), torch.eye(6)[:5],
                              model=model)
        keep = mixed_keep(mixed, scores)
        torch.testing.assert_close(keep.mean((1, 2)),
                                   torch.full((len(keep), ), lam))
        assert keep.std() > 0.01  # rescaled, not flattened


def test_mask_adjust_rescaling_and_probability():
    """Too much of the own sample: its weights scale by λ / mean; too
    little: the partner's by (1 - λ) / (1 - mean); applied to a batch with
    probability mask_adjust."""
    mixer = AutoMix(in_channels=8, mask_adjust=1.)
    keep = torch.tensor([0.8, 0.6]).view(2, 1, 1, 1) * torch.tensor(
        [[1., 0.5], [0.75, 0.25]]).view(1, 1, 2, 2)
    lam = torch.tensor([0.3, 0.5])
    adjusted = mixer.adjust_mask(keep, lam)
    mean = keep.mean((1, 2, 3))
    torch.testing.assert_close(adjusted[0], keep[0] * 0.3 / mean[0])
    torch.testing.assert_close(adjusted[1],
                               1 - (1 - keep[1]) * 0.5 / (1 - mean[1]))
    mixer.mask_adjust = 0.3
    torch.manual_seed(8)
    hits = sum(not torch.equal(mixer.adjust_mask(keep, lam), keep)
               for _ in range(2000))
    assert abs(hits / 2000 - 0.3) < 4 * math.sqrt(0.3 * 0.7 / 2000)


def test_no_repeat_partners():
    """Never its own partner when the fallback is a shift; the classifier's
    draw keeps a non-derangement only when 10 tries failed (about 1 %)."""
    torch.manual_seed(9)
    rows = torch.arange(16)
    counts = torch.zeros(16, 16)
    fixed = 0
    for _ in range(1000):
        index = no_repeat_index(16, rows.device, fallback_shift=True)
        assert sorted(index.tolist()) == list(range(16))
        assert (index != rows).all()
        counts[rows, index] += 1
        fixed += int((no_repeat_index(16, rows.device, False) == rows).any())
    assert fixed < 25  # expected 1000 * 0.632**11 ~ 6.4
    assert counts.diagonal().sum() == 0
    off = counts[~torch.eye(16, dtype=torch.bool)]
    assert off.min() > 30 and off.max() < 110  # uniform: 1000 / 15 ~ 67
    assert no_repeat_index(2, rows.device, True).tolist() == [1, 0]


# ------------------------------------------------------------ schedules


def test_momentum_schedule_at_chosen_iterations():
    """OpenMixup's CosineScheduleHook, adjust_scope [0.1, 1], constant
    warm-up: m = end - (end - base)(cos(π t / T) + 1) / 2 from t = 0.1 T."""
    base, end, total = 0.999, 0.999999, 1000
    for t, expected in [
        (0, base), (99, base),
        (100, end - (end - base) * (math.cos(math.pi * 0.1) + 1) / 2),
        (500, (base + end) / 2), (1000, end),
    ]:
        assert math.isclose(momentum_at(t, total, base, end, 0.1), expected,
                            rel_tol=0, abs_tol=1e-15)


def test_progress_sets_momentum_of_the_previous_iteration_and_mask_weight():
    mixer = AutoMix(in_channels=8, momentum=0.9, end_momentum=0.99,
                    mask_loss_anneal='cosine')
    mixer.set_train_progress(0, 10)
    assert mixer.current_momentum == 0.9
    mixer.set_train_progress(6, 10)
    assert math.isclose(mixer.current_momentum,
                        0.99 - 0.09 * (math.cos(math.pi * 0.5) + 1) / 2)
    assert math.isclose(mixer.current_mask_loss_weight,
                        0.1 * (math.cos(math.pi * 0.6) + 1) / 2)
    mixer.set_train_progress(10, 10)
    assert mixer.current_mask_loss_weight == pytest.approx(0, abs=1e-18)
    with pytest.raises(ValueError, match='iteration 11 of 10'):
        mixer.set_train_progress(11, 10)


def test_compounded_mask_weight_is_what_the_authors_hook_computed():
    """OpenMixup's CustomCosineAnnealingHook re-anneals its current value
    every iteration; reproduced by its own loop, also after a jump back."""
    mixer = AutoMix(in_channels=8, mask_loss_anneal='compounded')
    total, value, reference = 50, 0.1, {}
    for t in range(total + 1):
        value = 0 + 0.5 * (value - 0) * (math.cos(math.pi * t / total) + 1)
        reference[t] = value
    for t in (0, 1, 7, 30, 12, 50):
        assert math.isclose(mixer.mask_loss_weight_at(t, total),
                            reference[t], rel_tol=1e-12)
    assert reference[25] < 0.1 * (math.cos(math.pi * 0.5) + 1) / 2 / 100


@HOOKS.register_module()
class RecordMixerHook(Hook):
    """Record the AutoMix schedules and the lr of the Mix Block's group and
    of the backbone's, as seen by each training iteration."""

    priority = 'LOW'

    def __init__(self):
        self.records = []

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        mixer = runner.model.mixers[0]
        groups = runner.optim_wrapper.param_groups
        by_param = {p: g for g in groups for p in g['params']}
        block = by_param[mixer.mix_block.query.weight]
        backbone = by_param[runner.model.backbone.conv1.weight]
        self.records.append(
            (mixer.current_momentum, mixer.current_mask_loss_weight,
             block['lr'], block['momentum'], backbone['lr']))


def test_schedules_through_the_runner(runner_cfg):
    """EMA momentum, mask-loss weight, and the Mix Block's own lr (floor
    1e-3, no SGD momentum) vs the backbone's (floor 0.01), at every
    iteration of a 4-iteration run."""
    model = dict(
        type='MixupClassifier',
        data_preprocessor=dict(type='ClsDataPreprocessor', num_classes=3),
        backbone=dict(type='ResNet_CIFAR', depth=18, stem_channels=8,
                      base_channels=8),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='DMClsHead', num_classes=3, in_channels=64),
        mixer=dict(type='AutoMix', in_channels=32, momentum=0.5,
                   end_momentum=0.9, momentum_ramp_begin=0.25,
                   mask_loss_anneal='cosine'))
    cfg = runner_cfg(max_iters=4, model=model)
    cfg.update(
        optim_wrapper=dict(
            optimizer=dict(type='SGD', lr=0.1, momentum=0.9),
            paramwise_cfg=dict(custom_keys={
                'mix_block': dict(lr_mult=0.5, eta_min=1e-3, momentum=0.)
            })),
        param_scheduler=dict(type='GroupCosineAnnealingLR', by_epoch=False,
                             eta_min=0.01, begin=0, end=4, T_max=4),
        custom_hooks=[dict(type='MixerProgressHook'),
                      dict(type='RecordMixerHook')],
        val_dataloader=None, val_cfg=None, val_evaluator=None)
    runner = Runner.from_cfg(cfg)
    runner.train()
    records = next(h for h in runner.hooks
                   if isinstance(h, RecordMixerHook)).records
    assert len(records) == 4
    for t, record in enumerate(records):
        cosine = (1 + math.cos(math.pi * t / 4)) / 2
        previous = max(t - 1, 0)
        momentum = 0.5 if previous < 1 else 0.9 - 0.4 * (
            1 + math.cos(math.pi * previous / 4)) / 2
        expected = (momentum, 0.1 * cosine, 1e-3 + (0.05 - 1e-3) * cosine,
                    0., 0.01 + (0.1 - 0.01) * cosine)
        assert record == pytest.approx(expected, rel=1e-12, abs=1e-15), t


def test_ema_step_moves_parameters_only():
    """ema = m ema + (1 - m) online for all four networks' parameters, with
    the current momentum, drawn or not; BatchNorm statistics are the
    encoder's own (not copied)."""
    mixer, model = built()
    mixer.current_momentum = 0.75
    model.mixer_probs[:] = [0., 1.]  # AutoMix never drawn: EMA still steps
    encoder = mixer.momentum_encoder
    before = [p.clone() for p in encoder.parameters()]
    stats = encoder['backbone'].norm1.running_mean.clone()
    online = [*model.backbone.parameters(), *model.neck.parameters(),
              *model.head.parameters(), *mixer.one_hot_head.parameters()]
    with torch.no_grad():
        for param in online:
            param.add_(1.)
    model.backbone.norm1.running_mean.fill_(3.)
    model.loss(torch.randn(4, 3, 16, 16), samples(4))
    assert len(online) == len(before)
    for ema, old, new in zip(encoder.parameters(), before, online):
        torch.testing.assert_close(ema, 0.75 * old + 0.25 * new)
    torch.testing.assert_close(encoder['backbone'].norm1.running_mean, stats)


def test_init_weights_restarts_the_ema_from_the_online_weights():
    mixer, model = built()
    model.init_weights()
    for name in ('backbone', 'head'):
        online = getattr(model, name).state_dict()
        for key, value in mixer.momentum_encoder[name].state_dict().items():
            torch.testing.assert_close(value, online[key])


@pytest.mark.parametrize('backbone, in_channels', [
    (dict(type='ResNet', depth=18, stem_channels=8, base_channels=8), 32),
    (dict(type='ResNeXt', depth=50, stem_channels=8, base_channels=8,
          groups=2, width_per_group=4), 128),
])
def test_on_resnet_and_resnext(backbone, in_channels):
    torch.manual_seed(16)
    model = MODELS.build(
        dict(
            type='MixupClassifier',
            backbone=backbone,
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='DMClsHead', num_classes=6,
                      in_channels=in_channels * 2),
            mixer=dict(type='AutoMix', in_channels=in_channels,
                       lam_concat=True)))
    losses = model.loss(torch.randn(2, 3, 32, 32), samples(2))
    assert torch.isfinite(losses['loss_mix_block'])


def test_binds_itself_when_called_directly():
    mixer = SAMix(in_channels=32)
    _, model = built()
    mixed, _ = mixer(torch.randn(3, 3, 16, 16), torch.eye(6)[:3],
                     model=model)
    assert mixer.momentum_encoder is not None
    assert mixed.shape == (3, 3, 16, 16)
