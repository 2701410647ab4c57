"""Tests of the dynamic mixers PuzzleMix and AttentiveMix (AutoMix and SAMix:
test_automix.py, test_samix.py).

Scores are ``eye(N)`` (each sample its own class), so row ``i`` of the mixed
scores reads off the sample's own weight (``[i, i]``) and its partner (the
other positive column). Images that are constant per sample make the mixed
pixels read off the mask weights even after PuzzleMix moves blocks.
"""
import itertools

import pytest
import torch
from mmengine.runner import Runner
from mmpretrain.registry import MODELS

from dm_plugin.models.mixers.dynamic import AttentiveMix, PuzzleMix
from dm_plugin.models.mixers.dynamic.puzzlemix import (boundary_differences,
                                                       grid_energy,
                                                       icm_labels,
                                                       move_blocks,
                                                       transport_plan)
from dm_plugin.models.mixers.dynamic.utils import input_saliency
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

# -------------------------------------------------------------- PuzzleMix


def test_input_saliency_is_the_gradient_norm():
    torch.manual_seed(4)
    model = tiny_classifier()
    inputs, scores = torch.randn(3, 3, 8, 8), torch.eye(6)[:3]
    saliency = input_saliency(model, inputs, scores)
    model.eval()
    leaf = inputs.clone().requires_grad_(True)
    loss = -(scores * model.head(model.extract_feat(leaf)).log_softmax(1))
    loss.sum().backward()
    torch.testing.assert_close(saliency,
                               leaf.grad.square().mean(1).sqrt())


def test_puzzlemix_mask_is_blockwise_with_label_values():
    torch.manual_seed(5)
    mixer, model = mixer_and_model(dict(type='PuzzleMix', block_nums=(4, )))
    mixed, mixed_scores = mixer(constant_images(6), torch.eye(6),
                                model=model)
    weight = own_weights(mixed, mixed_scores)
    blocks = weight.view(6, 4, 4, 4, 4)
    torch.testing.assert_close(
        blocks, blocks[:, :, :1, :, :1].expand_as(blocks))
    labels = torch.tensor([0., 0.5, 1.])
    assert ((weight[..., None] - labels).abs().amin(-1) < 1e-6).all()


@pytest.mark.parametrize('lam, expected', [(0.9, 1.), (0.6, 0.5),
                                           (0.5, 0.5), (0.1, 0.)])
def test_puzzlemix_prior_sets_the_mask_when_saliency_is_flat(lam, expected):
    """With flat saliency and flat images only the label prior is left, and
    every block takes the most likely value under Binomial(2, lam)."""
    mixer = PuzzleMix()
    inputs = constant_images(4, height=16, width=16)
    index = torch.tensor([1, 0, 3, 2])
    unary, w_down, w_right, values = mixer.mask_terms(
        inputs, torch.ones(4, 16, 16), torch.full((4, ), lam), index, 4,
        1. / 255)
    labels = icm_labels(unary, w_down, w_right, values, 4)
    assert (values[labels] == expected).all()


def test_puzzlemix_mask_mean_follows_lambda():
    torch.manual_seed(6)
    mixer, model = mixer_and_model(dict(type='PuzzleMix', block_nums=(4, )))
    inputs = torch.randn(8, 3, 16, 16)
    saliency = input_saliency(model, inputs, torch.eye(6)[torch.arange(8) %
                                                          6])
    index = torch.roll(torch.arange(8), 1)
    means = []
    for lam in (0.2, 0.5, 0.8):
        unary, w_down, w_right, values = mixer.mask_terms(
            inputs, saliency, torch.full((8, ), lam), index, 4, 1. / 255)
        labels = icm_labels(unary, w_down, w_right, values, 4)
        means.append(values[labels].mean().item())
    assert means[0] < 0.5 < means[2] and means[0] < means[1] < means[2]


def random_energy(num=16, grid=3, num_labels=3, seed=7):
    generator = torch.Generator().manual_seed(seed)
    unary = torch.rand(num, grid, grid, num_labels, generator=generator)
    w_down = 0.3 * torch.rand(num, grid - 1, grid, generator=generator)
    w_right = 0.3 * torch.rand(num, grid, grid - 1, generator=generator)
    return unary, w_down, w_right, torch.linspace(0, 1, num_labels)


def test_icm_reaches_a_local_minimum_below_its_starts():
    unary, w_down, w_right, values = random_energy()
    labels = icm_labels(unary, w_down, w_right, values, 4)
    energy = grid_energy(labels, unary, w_down, w_right, values)
    starts = [unary.argmin(-1)] + [
        torch.full_like(labels, k) for k in range(len(values))
    ]
    for start in starts:
        assert (energy <= grid_energy(start, unary, w_down, w_right, values)
                + 1e-6).all()
    for row, col, label in itertools.product(range(3), range(3), range(3)):
        moved = labels.clone()
        moved[:, row, col] = label
        assert (grid_energy(moved, unary, w_down, w_right, values) >=
                energy - 1e-6).all()


def test_grid_energy_matches_a_naive_sum():
    unary, w_down, w_right, values = random_energy(num=2)
    labels = torch.randint(3, (2, 3, 3), generator=torch.Generator()
                           .manual_seed(0))
    energy = grid_energy(labels, unary, w_down, w_right, values)
    for n in range(2):
        total = 0.
        for r, c in itertools.product(range(3), range(3)):
            total += unary[n, r, c, labels[n, r, c]]
            v = values[labels[n, r, c]]
            if r < 2:
                total += w_down[n, r, c] * (v - values[labels[n, r + 1, c]])**2
            if c < 2:
                total += w_right[n, r, c] * (v -
                                             values[labels[n, r, c + 1]])**2
        torch.testing.assert_close(energy[n], total)


def test_boundary_differences_match_a_naive_loop():
    generator = torch.Generator().manual_seed(8)
    pair = torch.rand(2, 2, 2, 8, 12, generator=generator)
    block, neigh = (4, 6), (2, 3)
    down, right = boundary_differences(pair, block, neigh)
    pooled = torch.nn.functional.avg_pool2d(pair.flatten(0, 1), neigh).view(
        2, 2, 2, 4, 4)
    for a, b, n in itertools.product(range(2), range(2), range(2)):
        for gc in range(2):
            cols = slice(2 * gc, 2 * gc + 2)
            upper, lower = pooled[a, n, :, 1, cols], pooled[b, n, :, 2, cols]
            torch.testing.assert_close(down[a, b, n, 0, gc],
                                       (upper - lower).abs().mean())
        for gr in range(2):
            rows = slice(2 * gr, 2 * gr + 2)
            lhs, rhs = pooled[a, n, :, rows, 1], pooled[b, n, :, rows, 2]
            torch.testing.assert_close(right[a, b, n, gr, 0],
                                       (lhs - rhs).abs().mean())


def test_transport_plan_is_a_permutation():
    generator = torch.Generator().manual_seed(9)
    cost = torch.rand(6, 16, 16, generator=generator)
    source = transport_plan(cost, 4)
    assert (source.sort(-1).values == torch.arange(16)).all()


def test_transport_plan_finds_a_clear_optimum():
    """When every block has its own cheapest place, each gets it."""
    target = torch.stack([torch.randperm(9) for _ in range(4)])
    cost = torch.ones(4, 9, 9)
    cost.scatter_(-1, target[..., None], -1.)
    source = transport_plan(cost, 3)
    assert (source.gather(-1, target) == torch.arange(9)).all()


def test_transport_plan_resolves_conflicts_by_cost():
    """Blocks 0 and 1 both want place 0; the cheaper claim (block 1) wins,
    block 0 takes its next best place."""
    cost = torch.tensor([[[0.0, 0.5, 9.], [-1., 9., 9.], [9., 9., 0.]]])
    assert transport_plan(cost, 3).tolist() == [[1, 0, 2]]


def test_move_blocks_moves_whole_blocks():
    images = torch.arange(2 * 1 * 4 * 6.).view(2, 1, 4, 6)
    source = torch.tensor([[5, 4, 3, 2, 1, 0], [0, 1, 2, 3, 4, 5]])
    moved = move_blocks(images, source, (2, 2))
    for n, place in itertools.product(range(2), range(6)):
        src = source[n, place].item()
        torch.testing.assert_close(
            moved[n, :, 2 * (place // 3):2 * (place // 3) + 2,
                  2 * (place % 3):2 * (place % 3) + 2],
            images[n, :, 2 * (src // 3):2 * (src // 3) + 2,
                   2 * (src % 3):2 * (src % 3) + 2])


def test_puzzlemix_refuses_sizes_no_grid_divides():
    mixer, model = mixer_and_model(dict(type='PuzzleMix'))
    with pytest.raises(ValueError, match='divides'):
        mixer(torch.randn(2, 3, 9, 23), torch.eye(6)[:2], model=model)


@pytest.mark.parametrize('grid, size, expected', [
    (2, (32, 32), 8), (4, (32, 32), 8), (8, (32, 32), 8), (16, (32, 32), 16),
    (2, (224, 224), 8), (16, (224, 224), 16), (2, (16, 24), 8),
    (2, (12, 12), 2), (4, (12, 12), 4)])
def test_transport_grid_refines_the_labeling_grid(grid, size, expected):
    assert PuzzleMix().transport_grid(grid, *size) == expected


# ----------------------------------------------------------- AttentiveMix


def test_attentivemix_pastes_the_partners_top_cells():
    torch.manual_seed(10)
    mixer, model = mixer_and_model(
        dict(type='AttentiveMix', grid_size=4, top_k=3))
    inputs = torch.randn(6, 3, 16, 16)
    attention = mixer.attention(model, inputs)
    mixed, mixed_scores = mixer(inputs, torch.eye(6), model=model)
    index, own = partners(mixed_scores)
    for i, j in enumerate(index.tolist()):
        if i == j:
            continue
        pasted = (mixed[i] != inputs[i]).any(0).view(4, 4, 4, 4)
        cells = pasted.any(-1).any(1)
        assert pasted.all(-1).all(1).eq(cells).all()  # whole cells
        top = attention[j].flatten().topk(3).indices
        assert set(cells.flatten().nonzero().flatten().tolist()) == set(
            top.tolist())
        torch.testing.assert_close(mixed[i][:, pasted.view(16, 16)],
                                   inputs[j][:, pasted.view(16, 16)])
        assert own[i].item() == pytest.approx(1 - 3 / 16)


def test_attentivemix_lambda_sets_the_cell_count():
    torch.manual_seed(11)
    mixer, model = mixer_and_model(
        dict(type='AttentiveMix', grid_size=4, top_k=None, mode='elem'))
    _, mixed_scores = mixer(constant_images(6), torch.eye(6), model=model)
    index, own = partners(mixed_scores)
    moved = index != torch.arange(6)
    cells = (1 - own[moved]) * 16
    torch.testing.assert_close(cells, cells.round())
    assert (cells >= 1).all()


def test_attentivemix_needs_a_feature_map():
    mixer = AttentiveMix()
    model = tiny_classifier()
    model.backbone.forward = lambda x: (x.mean((2, 3)), )
    with pytest.raises(ValueError, match='spatial feature map'):
        mixer(torch.randn(2, 3, 16, 16), torch.eye(6)[:2], model=model)
