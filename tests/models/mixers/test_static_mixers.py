"""Contract tests of every static mixer, and ManifoldMix's feature hook.

Scores are ``eye(N)`` (each sample its own class), so row ``i`` of the mixed
scores reads off the sample's λ (``[i, i]``) and its partner (the other
positive column); the mixed pixels are then checked against both.
"""
import pytest
import torch
import torch.nn.functional as F
from mmengine.runner import Runner
from mmpretrain.models import RandomBatchAugment
from mmpretrain.registry import MODELS

from dm_plugin.models.mixers.static import (CutMix, FMix, GridMix, ManifoldMix,
                                            Mixup, ResizeMix, SaliencyMix,
                                            SmoothMix)
from dm_plugin.registry import MIXERS, build_mixer

STATIC = ('Mixup', 'CutMix', 'ResizeMix', 'FMix', 'GridMix', 'SaliencyMix',
          'SmoothMix', 'ManifoldMix')
# Every mixer, plus the option that changes a mixer's kind of mask.
CONFIGS = [dict(type=name) for name in STATIC] + [
    dict(type='FMix', max_soft=0.2),
    dict(type='ResizeMix', interpolation='bilinear'),
    dict(type='ManifoldMix', layers=(2, )),
]
CONFIG_IDS = [
    '-'.join(str(v) for v in cfg.values() if not isinstance(v, tuple))
    + ('-stage2' if 'layers' in cfg else '') for cfg in CONFIGS
]
IMAGE_MIXERS = [
    cfg for cfg in CONFIGS
    if cfg['type'] not in ('ResizeMix', 'ManifoldMix')
]
MODES = ('batch', 'elem', 'pair')


def tiny_classifier(in_channels=3, num_classes=3, **backbone):
    """A MixupClassifier on a very narrow ResNet_CIFAR-18."""
    backbone = dict(
        type='ResNet_CIFAR',
        depth=18,
        in_channels=in_channels,
        stem_channels=8,
        base_channels=8,
        **backbone)
    return MODELS.build(
        dict(
            type='MixupClassifier',
            backbone=backbone,
            neck=dict(type='GlobalAveragePooling'),
            head=dict(
                type='DMClsHead', num_classes=num_classes, in_channels=64)))


def apply(mixer, inputs, scores, model=None):
    """Call a mixer as MixupClassifier does; run the backbone after a mixer
    that needs the model, so that a feature hook fires and goes."""
    if not mixer.needs_model:
        return mixer(inputs, scores)
    model = model or tiny_classifier(inputs.size(1)).to(inputs.dtype)
    mixed, mixed_scores = mixer(inputs, scores, model=model)
    model.extract_feat(mixed)
    return mixed, mixed_scores


def partners(mixed_scores):
    """(N,) partner and (N,) λ read off eye-mixed scores; a sample that kept
    itself whole is its own partner."""
    lam = mixed_scores.diagonal()
    others = mixed_scores - torch.diag_embed(lam)
    index = torch.where(lam < 1, others.argmax(1),
                        torch.arange(len(lam)))
    return index, lam


def check_mixed_scores(mixed_scores, num):
    """Rows sum to 1; row i's positives are i and at most one partner."""
    torch.testing.assert_close(mixed_scores.sum(1),
                               torch.ones(num, dtype=mixed_scores.dtype))
    assert ((mixed_scores > 0).sum(1) <= 2).all()
    assert (mixed_scores >= 0).all()
    assert (mixed_scores.diagonal() > 0).all()


def check_pixels_follow_scores(inputs, mixed, mixed_scores):
    """Each mixed pixel is ``m * own + (1 - m) * partner`` with one weight m
    in [0, 1] for all channels, and the mean of m is the sample's λ."""
    index, lam = partners(mixed_scores)
    own, other = inputs, inputs[index]
    diff = own - other
    weight = torch.where(diff != 0, (mixed - other) / diff,
                         torch.ones_like(diff))
    fixed = index == torch.arange(len(index))
    torch.testing.assert_close(mixed[fixed], inputs[fixed])
    weight = weight[~fixed]
    assert (weight > -1e-6).all() and (weight < 1 + 1e-6).all()
    torch.testing.assert_close(weight, weight[:, :1].expand_as(weight))
    torch.testing.assert_close(
        weight[:, 0].flatten(1).mean(1), lam[~fixed], atol=1e-6, rtol=0)


@pytest.mark.parametrize('cfg', CONFIGS, ids=CONFIG_IDS)
@pytest.mark.parametrize('mode', MODES)
@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_shapes_dtype_and_scores(cfg, mode, dtype):
    torch.manual_seed(0)
    mixer = build_mixer(dict(cfg, mode=mode))
    inputs = torch.randn(6, 3, 10, 14, dtype=dtype)
    mixed, mixed_scores = apply(mixer, inputs, torch.eye(6, dtype=dtype))
    assert mixed.shape == inputs.shape and mixed.dtype == dtype
    assert mixed_scores.shape == (6, 6) and mixed_scores.dtype == dtype
    check_mixed_scores(mixed_scores, 6)


@pytest.mark.parametrize('cfg', IMAGE_MIXERS, ids=lambda c: str(c))
@pytest.mark.parametrize('mode', MODES)
@pytest.mark.parametrize('shape', [(7, 3, 16, 16), (5, 1, 9, 23)])
def test_pixels_follow_scores(cfg, mode, shape):
    """λ is the kept area (mean mask weight), for any H, W, C and N."""
    torch.manual_seed(1)
    inputs = torch.randn(*shape, dtype=torch.float64)
    mixer = build_mixer(dict(cfg, mode=mode))
    for _ in range(3):
        mixed, mixed_scores = mixer(inputs, torch.eye(shape[0]).double())
        check_mixed_scores(mixed_scores, shape[0])
        check_pixels_follow_scores(inputs, mixed, mixed_scores)


@pytest.mark.parametrize('mode', MODES)
@pytest.mark.parametrize('shape', [(7, 3, 16, 16), (5, 1, 9, 23)])
@pytest.mark.parametrize('interpolation', ['nearest', 'bilinear'])
def test_resizemix_pastes_the_resized_partner(mode, shape, interpolation):
    """Kept pixels are the sample's own; the rest is one rectangle holding
    the whole partner resized to it (F.interpolate per sample as the
    reference), of sides at most int(0.8 * side) truncated to even; λ is the
    kept fraction."""
    torch.manual_seed(2)
    inputs = torch.randn(*shape, dtype=torch.float64)
    mixer = ResizeMix(mode=mode, interpolation=interpolation)
    for _ in range(3):
        mixed, mixed_scores = mixer(inputs, torch.eye(shape[0]))
        check_mixed_scores(mixed_scores, shape[0])
        index, lam = partners(mixed_scores)
        for i, j in enumerate(index.tolist()):
            if i == j:  # own partner: a shrunk copy of itself, same label
                continue
            pasted = (mixed[i] != inputs[i]).any(0)
            assert pasted.float().mean().item() == pytest.approx(
                1 - lam[i].item(), abs=1e-6)
            rows = pasted.any(1).nonzero().flatten()
            cols = pasted.any(0).nonzero().flatten()
            top, left = rows[0].item(), cols[0].item()
            height, width = len(rows), len(cols)
            assert pasted[top:top + height, left:left + width].all()
            assert height <= int(0.8 * shape[2]) // 2 * 2
            assert width <= int(0.8 * shape[3]) // 2 * 2
            reference = F.interpolate(
                inputs[j:j + 1], size=(height, width), mode=interpolation,
                align_corners=None if interpolation == 'nearest' else False)
            torch.testing.assert_close(
                mixed[i, :, top:top + height, left:left + width],
                reference[0])


@pytest.mark.parametrize('cfg', CONFIGS, ids=CONFIG_IDS)
@pytest.mark.parametrize('mode', MODES)
def test_deterministic_under_seed(cfg, mode):
    inputs = torch.randn(6, 3, 12, 12)
    mixer = build_mixer(dict(cfg, mode=mode))
    runs = []
    for seed in (3, 3, 4):
        torch.manual_seed(seed)
        model = tiny_classifier() if mixer.needs_model else None
        torch.manual_seed(seed)
        runs.append(apply(mixer, inputs, torch.eye(6), model=model))
    for first, second in zip(runs[0], runs[1]):
        torch.testing.assert_close(first, second, rtol=0, atol=0)
    assert not torch.equal(runs[0][1], runs[2][1])


@pytest.mark.parametrize('cfg', CONFIGS, ids=CONFIG_IDS)
@pytest.mark.parametrize('mode', MODES)
def test_batch_of_one(cfg, mode):
    """A lone sample is its own partner: its scores stay; its image too,
    but for ResizeMix, which pastes a shrunk copy of it."""
    torch.manual_seed(0)
    inputs = torch.randn(1, 3, 16, 16)
    scores = torch.tensor([[0., 1., 0.]])
    mixed, mixed_scores = apply(build_mixer(dict(cfg, mode=mode)), inputs,
                                scores)
    assert mixed.shape == inputs.shape
    if cfg['type'] != 'ResizeMix':
        torch.testing.assert_close(mixed, inputs)
    torch.testing.assert_close(mixed_scores, scores)


@pytest.mark.parametrize('cfg', CONFIGS, ids=CONFIG_IDS)
@pytest.mark.parametrize('num', [3, 5])
def test_pair_mode_swaps_with_odd_one_out(cfg, num):
    """Pairs swap content with the same λ; an odd batch leaves one sample
    whole."""
    torch.manual_seed(5)
    mixer = build_mixer(dict(cfg, mode='pair'))
    _, mixed_scores = apply(mixer, torch.randn(num, 3, 16, 16),
                            torch.eye(num))
    index, lam = partners(mixed_scores)
    own = torch.arange(num)
    assert (index == own).sum() == 1
    torch.testing.assert_close(index[index], own)
    torch.testing.assert_close(lam[index], lam)


@pytest.mark.parametrize('cfg', CONFIGS, ids=CONFIG_IDS)
def test_batch_mode_shares_lambda(cfg):
    torch.manual_seed(6)
    mixer = build_mixer(dict(cfg, mode='batch'))
    _, mixed_scores = apply(mixer, torch.randn(8, 3, 12, 12), torch.eye(8))
    index, lam = partners(mixed_scores)
    mixed_rows = lam[index != torch.arange(8)]
    torch.testing.assert_close(mixed_rows, mixed_rows[:1].expand_as(
        mixed_rows))


@pytest.mark.parametrize('name', STATIC)
def test_registered_under_literature_names(name):
    assert MIXERS.get(name).__name__ == name
    assert MIXERS.get(f'dm_plugin.{name}') is MIXERS.get(name)


@pytest.mark.parametrize('name', [n for n in STATIC if n != 'ManifoldMix'])
def test_inside_stock_random_batch_augment(name):
    augment = RandomBatchAugment(dict(type=f'dm_plugin.{name}', alpha=0.8))
    assert type(augment.augments[0]) is MIXERS.get(name)
    labels = F.one_hot(torch.tensor([0, 1, 2, 1, 0]), 3)
    mixed, mixed_scores = augment(torch.randn(5, 3, 16, 12), labels)
    assert mixed.shape == (5, 3, 16, 12) and mixed_scores.shape == (5, 3)
    torch.testing.assert_close(mixed_scores.sum(1), torch.ones(5))


def test_manifoldmix_in_stock_augments_asks_for_the_model():
    augment = RandomBatchAugment(dict(type='dm_plugin.ManifoldMix'))
    with pytest.raises(ValueError, match='needs the classifier'):
        augment(torch.randn(2, 3, 8, 8), torch.eye(2))


@pytest.mark.parametrize('name', STATIC)
def test_trains_in_mixup_classifier_with_runner(name, runner_cfg):
    cfg = runner_cfg(max_iters=2)
    cfg['model']['mixer'] = dict(type=name)
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 2
    loss = runner.message_hub.log_scalars['train/loss'].current()
    assert torch.isfinite(torch.tensor(loss))
    backbone = runner.model.backbone
    assert not any(
        getattr(backbone, layer)._forward_hooks
        for layer in backbone.res_layers)


# ManifoldMix: the hook on a residual stage.


def reference_cifar_features(backbone, inputs, stage, lam, index):
    """ResNet_CIFAR's forward written out, mixing after residual ``stage``."""
    x = backbone.relu(backbone.norm1(backbone.conv1(inputs)))
    for number, name in enumerate(backbone.res_layers, start=1):
        x = getattr(backbone, name)(x)
        if number == stage:
            lam_ = lam.view(-1, 1, 1, 1)
            x = lam_ * x + (1 - lam_) * x[index]
    return x


@pytest.mark.parametrize('stage', [1, 2, 4])
@pytest.mark.parametrize('mode', MODES)
def test_manifoldmix_mixes_the_chosen_stage(stage, mode):
    torch.manual_seed(7)
    model = tiny_classifier().eval()
    inputs = torch.randn(5, 3, 8, 8)
    mixer = ManifoldMix(mode=mode, layers=(stage, ))
    returned, mixed_scores = mixer(inputs, torch.eye(5), model=model)
    assert returned is inputs
    features = model.extract_feat(returned)[-1]
    index, lam = partners(mixed_scores)
    reference = reference_cifar_features(model.backbone, inputs, stage, lam,
                                         index)
    torch.testing.assert_close(features, model.neck(reference))
    # One-shot: the next forward is a plain one.
    plain = reference_cifar_features(model.backbone, inputs, 0, lam, index)
    torch.testing.assert_close(
        model.extract_feat(inputs)[-1], model.neck(plain))
    assert not model.backbone._forward_hooks


def test_manifoldmix_layer_zero_is_input_mixup():
    torch.manual_seed(8)
    inputs = torch.randn(4, 3, 8, 8)
    model = tiny_classifier()
    mixed, mixed_scores = ManifoldMix(layers=(0, ))(
        inputs, torch.eye(4), model=model)
    check_pixels_follow_scores(inputs, mixed, mixed_scores)
    assert not model.backbone._forward_hooks


def test_manifoldmix_draws_among_layers():
    torch.manual_seed(9)
    model = tiny_classifier()
    mixer = ManifoldMix(layers=(0, 3))
    inputs = torch.randn(4, 3, 8, 8)
    seen = set()
    for _ in range(20):
        mixed, _ = mixer(inputs, torch.eye(4), model=model)
        hooked = bool(model.backbone.layer3._forward_hooks)
        seen.add(3 if hooked else 0)
        assert hooked == (mixed is inputs)
        model.extract_feat(mixed)
    assert seen == {0, 3}


@pytest.mark.parametrize('backbone', [
    dict(type='ResNet', depth=18, base_channels=8, stem_channels=8),
    dict(type='ResNeXt', depth=50, groups=4, width_per_group=2,
         base_channels=8, stem_channels=8),
], ids=['ResNet', 'ResNeXt'])
def test_manifoldmix_hooks_imagenet_resnets(backbone):
    torch.manual_seed(10)
    model = MODELS.build(
        dict(
            type='MixupClassifier',
            backbone=backbone,
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='LinearClsHead', num_classes=4,
                      in_channels=backbone['base_channels'] * 8 *
                      (1 if backbone['type'] == 'ResNet' else 4))))
    inputs = torch.randn(2, 3, 32, 32)
    mixer = ManifoldMix(layers=(4, ))
    returned, _ = mixer(inputs, torch.eye(2), model=model)
    assert model.backbone.layer4._forward_hooks
    model.extract_feat(returned)
    assert not model.backbone.layer4._forward_hooks
    assert not model.backbone._forward_hooks


def test_manifoldmix_hook_goes_when_forward_raises():
    model = tiny_classifier()
    mixer = ManifoldMix(layers=(2, ))
    mixer(torch.randn(2, 3, 8, 8), torch.eye(2), model=model)
    with pytest.raises(RuntimeError):
        model.extract_feat(torch.randn(2, 5, 8, 8))  # wrong channels
    assert not model.backbone.layer2._forward_hooks
    model.extract_feat(torch.randn(2, 3, 8, 8))
    assert not model.backbone._forward_hooks


def test_manifoldmix_rearming_drops_an_unused_hook():
    model = tiny_classifier()
    mixer = ManifoldMix(layers=(1, ))
    for _ in range(3):
        mixer(torch.randn(2, 3, 8, 8), torch.eye(2), model=model)
    assert len(model.backbone.layer1._forward_hooks) == 1
    assert len(model.backbone._forward_hooks) == 1


def test_manifoldmix_refuses_backbones_without_stages():
    model = MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=dict(type='LeNet5'),
            head=dict(type='ClsHead')))
    with pytest.raises(TypeError, match='LeNet5'):
        ManifoldMix()(torch.randn(2, 1, 32, 32), torch.eye(2), model=model)


def test_manifoldmix_refuses_layers_past_the_last_stage():
    with pytest.raises(ValueError, match='4 residual stages'):
        ManifoldMix(layers=(0, 5))(
            torch.randn(2, 3, 8, 8), torch.eye(2), model=tiny_classifier())


def test_manifoldmix_needs_the_model():
    with pytest.raises(ValueError, match='needs the classifier'):
        ManifoldMix()(torch.randn(2, 3, 8, 8), torch.eye(2))


# Bad input.


@pytest.mark.parametrize('cls', [
    Mixup, CutMix, ResizeMix, FMix, GridMix, SaliencyMix, SmoothMix,
    ManifoldMix
])
@pytest.mark.parametrize('alpha, error', [(0., ValueError), (-1., ValueError),
                                          (float('inf'), ValueError),
                                          ('1', TypeError)])
def test_bad_alpha(cls, alpha, error):
    with pytest.raises(error, match='alpha'):
        cls(alpha=alpha)


@pytest.mark.parametrize('cls', [ResizeMix, FMix, GridMix, SaliencyMix,
                                 SmoothMix, ManifoldMix])
def test_bad_mode(cls):
    with pytest.raises(ValueError, match='mode'):
        cls(mode='sample')


@pytest.mark.parametrize('name', STATIC)
@pytest.mark.parametrize('inputs, scores, error, message', [
    (torch.randn(2, 3, 8), torch.eye(2), ValueError, '4-D'),
    (torch.randn(2, 3, 8, 8), torch.ones(2), ValueError, 'scores must be'),
    (torch.randn(2, 3, 8, 8), torch.eye(3), ValueError, 'shape mismatch'),
    (torch.zeros(2, 3, 8, 8, dtype=torch.uint8), torch.eye(2), TypeError,
     'floating-point'),
])
def test_bad_inputs(name, inputs, scores, error, message):
    mixer = build_mixer(dict(type=name))
    model = tiny_classifier() if mixer.needs_model else None
    with pytest.raises(error, match=message):
        mixer(inputs, scores, model=model)


@pytest.mark.parametrize('cfg, error, message', [
    (dict(type='ResizeMix', scale=(0.5, 0.2)), ValueError, 'min <= max'),
    (dict(type='ResizeMix', scale=(0., 0.5)), ValueError, r'scale\[0\]'),
    (dict(type='ResizeMix', scale=(0.1, 1.5)), ValueError, r'scale\[1\]'),
    (dict(type='ResizeMix', scale=0.5), TypeError, 'scale'),
    (dict(type='ResizeMix', interpolation='area'), ValueError,
     'interpolation'),
    (dict(type='FMix', decay_power=-1), ValueError, 'decay_power'),
    (dict(type='FMix', max_soft=0.6), ValueError, 'max_soft'),
    (dict(type='ResizeMix', use_alpha=1), TypeError, 'use_alpha'),
    (dict(type='GridMix', n_holes=(0, 3)), ValueError, r'n_holes\[0\]'),
    (dict(type='GridMix', n_holes=(4, 2)), ValueError, 'min <= max'),
    (dict(type='GridMix', n_holes=(2.5, 3)), TypeError, 'integers'),
    (dict(type='GridMix', cut_area_ratio=(0.5, 1.5)), ValueError,
     r'cut_area_ratio\[1\]'),
    (dict(type='GridMix', cut_aspect_ratio=(0., 2.)), ValueError,
     r'cut_aspect_ratio\[0\]'),
    (dict(type='GridMix', hole_aspect_ratio=1.), TypeError,
     'hole_aspect_ratio'),
    (dict(type='SaliencyMix', saliency_size=2), ValueError,
     'saliency_size'),
    (dict(type='SaliencyMix', saliency_size=32.), TypeError,
     'saliency_size'),
    (dict(type='SmoothMix', sigma=(0., 0.5)), ValueError, r'sigma\[0\]'),
    (dict(type='SmoothMix', sigma=(0.1, 0.2, 0.3)), TypeError, 'sigma'),
    (dict(type='ManifoldMix', layers=()), ValueError, 'layers'),
    (dict(type='ManifoldMix', layers=(-1, )), ValueError, 'layers'),
    (dict(type='ManifoldMix', layers=2), ValueError, 'layers'),
])
def test_bad_mixer_arguments(cfg, error, message):
    with pytest.raises(error, match=message):
        build_mixer(cfg)
