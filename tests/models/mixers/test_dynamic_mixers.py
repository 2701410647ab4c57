"""The contract every dynamic mixer keeps (PuzzleMix, AttentiveMix, AutoMix,
SAMix); each mixer's own behaviour is tested in test_puzzlemix.py,
test_attentivemix.py, test_automix.py and test_samix.py.

Scores are ``eye(N)`` (each sample its own class), so row ``i`` of the mixed
scores reads off the sample's own weight (``[i, i]``) and its partner (the
other positive column). Images that are constant per sample make the mixed
pixels read off the mask weights even after PuzzleMix moves blocks.
"""
import pytest
import torch
from mmengine.runner import Runner
from mmpretrain.registry import MODELS

from dm_plugin.registry import MIXERS, build_mixer

CONFIGS = [
    dict(type='PuzzleMix'),
    dict(type='PuzzleMix', n_labels=2, transport=False, block_nums=(4, )),
    dict(type='AttentiveMix'),
    dict(type='AttentiveMix', grid_size=None, top_k=None),
]
IDS = ['puzzle', 'puzzle-binary', 'attentive', 'attentive-lam']
MODES = ('batch', 'elem', 'pair')


def tiny_classifier(in_channels=3, num_classes=6, mixer=None, **backbone):
    """A MixupClassifier on a very narrow ResNet_CIFAR-18 (layer3: 32
    channels)."""
    backbone = dict(
        dict(type='ResNet_CIFAR', depth=18, stem_channels=8,
             base_channels=8),
        in_channels=in_channels, **backbone)
    return MODELS.build(
        dict(
            type='MixupClassifier',
            backbone=backbone,
            neck=dict(type='GlobalAveragePooling'),
            head=dict(
                type='DMClsHead',
                num_classes=num_classes,
                in_channels=backbone.get('base_channels', 8) * 8),
            mixer=mixer))


def mixer_and_model(cfg, in_channels=3, num_classes=6, dtype=torch.float32):
    """The mixer bound inside a tiny classifier (as training uses it)."""
    model = tiny_classifier(in_channels, num_classes, mixer=cfg).to(dtype)
    return model.mixers[0], model


def partners(mixed_scores):
    """(N,) partner and (N,) own weight read off eye-mixed scores; a sample
    kept whole (or fully replaced by a class it shares) is its own
    partner."""
    rows = torch.arange(len(mixed_scores))
    own = mixed_scores[rows, rows]
    others = mixed_scores.clone()
    others[rows, rows] = 0
    index = torch.where(others.amax(1) > 0, others.argmax(1), rows)
    return index, own


def check_mixed_scores(mixed_scores, num, pair=False):
    """Rows sum to 1; row i's positives are i and at most one partner; the
    partners are distinct (a permutation); in pair mode partners swap (a
    partner may keep itself whole, showing nothing of the other)."""
    torch.testing.assert_close(
        mixed_scores.sum(1), torch.ones(num, dtype=mixed_scores.dtype))
    assert (mixed_scores >= 0).all()
    assert ((mixed_scores > 0).sum(1) <= 2).all()
    index, _ = partners(mixed_scores)
    moved = index != torch.arange(num)
    assert len(set(index[moved].tolist())) == int(moved.sum())
    if pair:
        back = index[index[moved]]
        assert ((back == torch.arange(num)[moved]) |
                (back == index[moved])).all()


def constant_images(num, channels=3, height=16, width=16,
                    dtype=torch.float32):
    """(N, C, H, W) images, image i filled with the value i + 1."""
    values = torch.arange(1, num + 1, dtype=dtype)
    return values.view(-1, 1, 1, 1).expand(num, channels, height,
                                           width).clone()


def own_weights(mixed, mixed_scores):
    """(N, H, W) weight of each sample's own pixel in eye-mixed constant
    images (1 where a sample is its own partner)."""
    index, _ = partners(mixed_scores)
    own = torch.arange(1, len(index) + 1, dtype=mixed.dtype)
    other = own[index]
    diff = (own - other).view(-1, 1, 1)
    safe = torch.where(diff == 0, torch.ones_like(diff), diff)
    weight = (mixed[:, 0] - other.view(-1, 1, 1)) / safe
    return torch.where(diff == 0, torch.ones_like(weight), weight)


# --------------------------------------------------------------- contract


@pytest.mark.parametrize('cfg', CONFIGS, ids=IDS)
@pytest.mark.parametrize('mode', MODES)
@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_shapes_dtype_and_scores(cfg, mode, dtype):
    torch.manual_seed(0)
    mixer, model = mixer_and_model(dict(cfg, mode=mode), dtype=dtype)
    inputs = torch.randn(6, 3, 16, 16, dtype=dtype)
    mixed, mixed_scores = mixer(inputs, torch.eye(6, dtype=dtype),
                                model=model)
    assert mixed.shape == inputs.shape and mixed.dtype == dtype
    assert mixed_scores.shape == (6, 6) and mixed_scores.dtype == dtype
    check_mixed_scores(mixed_scores, 6, pair=mode == 'pair')


@pytest.mark.parametrize('cfg', CONFIGS[:4], ids=IDS[:4])
@pytest.mark.parametrize('mode', MODES)
def test_pixels_follow_scores(cfg, mode):
    """PuzzleMix and AttentiveMix weigh each sample by the share of its own
    content in the mixed image, blocks moved or not."""
    torch.manual_seed(1)
    mixer, model = mixer_and_model(dict(cfg, mode=mode))
    for _ in range(3):
        inputs = constant_images(6)
        mixed, mixed_scores = mixer(inputs, torch.eye(6), model=model)
        check_mixed_scores(mixed_scores, 6)
        weight = own_weights(mixed, mixed_scores)
        assert (weight > -1e-6).all() and (weight < 1 + 1e-6).all()
        torch.testing.assert_close(
            weight.flatten(1).mean(1), mixed_scores.diagonal())


@pytest.mark.parametrize('cfg', CONFIGS, ids=IDS)
@pytest.mark.parametrize('mode', MODES)
def test_deterministic_under_seed(cfg, mode):
    inputs = torch.randn(8, 3, 16, 16)
    runs = []
    for seed in (3, 3, 4):
        torch.manual_seed(0)
        mixer, model = mixer_and_model(dict(cfg, mode=mode), num_classes=8)
        torch.manual_seed(seed)
        runs.append(mixer(inputs, torch.eye(8), model=model))
    for first, second in zip(runs[0], runs[1]):
        torch.testing.assert_close(first, second, rtol=0, atol=0)
    assert not torch.equal(runs[0][1], runs[2][1])


@pytest.mark.parametrize('cfg', CONFIGS, ids=IDS)
@pytest.mark.parametrize('num', [1, 3, 5])
def test_batch_of_one_and_odd_batches(cfg, num):
    torch.manual_seed(2)
    mixer, model = mixer_and_model(dict(cfg, mode='pair'))
    inputs = torch.randn(num, 3, 16, 16)
    mixed, mixed_scores = mixer(inputs, torch.eye(6)[:num], model=model)
    check_mixed_scores(mixed_scores, num, pair=True)
    index, _ = partners(mixed_scores)
    alone = index == torch.arange(num)
    assert alone.sum() >= 1
    torch.testing.assert_close(mixed[alone], inputs[alone])


@pytest.mark.parametrize('cfg', CONFIGS, ids=IDS)
def test_non_square_one_channel_inputs(cfg):
    torch.manual_seed(3)
    mixer, model = mixer_and_model(cfg, in_channels=1)
    inputs = torch.randn(5, 1, 16, 24)
    mixed, mixed_scores = mixer(inputs, torch.eye(6)[:5], model=model)
    assert mixed.shape == inputs.shape
    check_mixed_scores(mixed_scores, 5)


@pytest.mark.parametrize('cfg', CONFIGS[::2], ids=IDS[::2])
def test_trains_two_iterations_through_runner(cfg, runner_cfg):
    model = dict(
        type='MixupClassifier',
        data_preprocessor=dict(
            type='ClsDataPreprocessor', num_classes=3, mean=[127.5] * 3,
            std=[127.5] * 3),
        backbone=dict(
            type='ResNet_CIFAR', depth=18, stem_channels=8, base_channels=8),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='DMClsHead', num_classes=3, in_channels=64),
        mixer=cfg)
    runner = Runner.from_cfg(runner_cfg(max_iters=2, model=model))
    runner.train()
    assert runner.iter == 2
    logged = runner.message_hub.log_scalars
    keys = ['train/loss', 'train/loss_mce', 'train/mix_time']
    for key in keys:
        assert key in logged
        assert torch.isfinite(torch.tensor(logged[key].current()))
    assert logged['train/mix_time'].current() > 0


@pytest.mark.parametrize('cfg', CONFIGS, ids=IDS)
def test_bad_inputs_are_refused(cfg):
    mixer, model = mixer_and_model(cfg)
    good = torch.randn(4, 3, 16, 16)
    with pytest.raises(ValueError, match='4-D'):
        mixer(good[0], torch.eye(6)[:4], model=model)
    with pytest.raises(ValueError, match='scores must be a 2-D'):
        mixer(good, torch.arange(4), model=model)
    with pytest.raises(ValueError, match='shape mismatch'):
        mixer(good, torch.eye(6)[:3], model=model)
    with pytest.raises(ValueError, match='needs the classifier'):
        mixer(good, torch.eye(6)[:4])


@pytest.mark.parametrize('cfg', CONFIGS[:1], ids=IDS[:1])
def test_scores_must_match_the_classifier(cfg):
    mixer, model = mixer_and_model(cfg)
    with pytest.raises(ValueError, match='num_classes mismatch'):
        mixer(torch.randn(4, 3, 16, 16), torch.eye(4), model=model)


@pytest.mark.parametrize('name, args', [
    ('PuzzleMix', {}),
    ('AttentiveMix', {}),
])
@pytest.mark.parametrize('alpha', [0, -1.])
def test_alpha_must_be_positive(name, args, alpha):
    with pytest.raises(ValueError, match='alpha must be > 0'):
        build_mixer(dict(type=name, alpha=alpha, **args))


@pytest.mark.parametrize('cfg, error, message', [
    (dict(type='PuzzleMix', n_labels=1), ValueError, 'n_labels'),
    (dict(type='PuzzleMix', block_nums=()), TypeError, 'block_nums'),
    (dict(type='PuzzleMix', block_nums=(1, 4)), ValueError, 'block_nums'),
    (dict(type='PuzzleMix', beta=-0.1), ValueError, 'beta'),
    (dict(type='PuzzleMix', t_grid=2.5), TypeError, 't_grid'),
    (dict(type='PuzzleMix', transport=1), TypeError, 'transport'),
    (dict(type='AttentiveMix', grid_size=0), ValueError, 'grid_size'),
    (dict(type='AttentiveMix', grid_size=2, top_k=5), ValueError, 'top_k'),
])
def test_bad_arguments_name_the_argument(cfg, error, message):
    with pytest.raises(error, match=message):
        build_mixer(cfg)


def test_registered_with_paper_defaults():
    assert {'PuzzleMix', 'AttentiveMix'} <= set(MIXERS.module_dict)
    puzzle = build_mixer(dict(type='PuzzleMix'))
    assert (puzzle.alpha, puzzle.n_labels, puzzle.beta, puzzle.gamma,
            puzzle.eta, puzzle.neigh_size, puzzle.t_eps,
            puzzle.t_grid) == (1.0, 3, 1.2, 0.5, 0.2, 4, 0.8, 8)
    assert puzzle.block_nums == (2, 4, 8, 16) and puzzle.transport
    attentive = build_mixer(dict(type='AttentiveMix'))
    assert (attentive.grid_size, attentive.top_k) == (7, 6)
    assert all(mixer.needs_model for mixer in (puzzle, attentive))


@pytest.mark.parametrize('cfg', CONFIGS[:4], ids=IDS[:4])
def test_extra_passes_leave_the_model_as_found(cfg):
    """No BatchNorm statistics written, no parameter gradients, every
    module's training flag restored."""
    mixer, model = mixer_and_model(cfg)
    model.train()
    model.backbone.layer1.eval()  # a per-module choice to preserve
    flags = [m.training for m in model.modules()]
    state = {k: v.clone() for k, v in model.state_dict().items()}
    mixer(torch.randn(4, 3, 16, 16), torch.eye(6)[:4], model=model)
    assert [m.training for m in model.modules()] == flags
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, state[key], rtol=0, atol=0)
    assert all(p.grad is None for p in model.parameters())



@pytest.mark.parametrize('cfg', CONFIGS, ids=IDS)
def test_runs_under_autocast(cfg):
    torch.manual_seed(17)
    mixer, model = mixer_and_model(cfg)
    inputs = torch.randn(4, 3, 16, 16)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        mixed, mixed_scores = mixer(inputs, torch.eye(6)[:4], model=model)
    assert mixed.dtype == torch.float32 and torch.isfinite(mixed).all()
    check_mixed_scores(mixed_scores, 4)
