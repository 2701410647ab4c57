"""PuzzleMix: the labeling solvers against brute force, the energy, the
transport and the clean-input loss (the contract shared by every dynamic
mixer is in test_dynamic_mixers.py)."""
import itertools
import math
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmpretrain.structures import DataSample
from test_dynamic_mixers import (check_mixed_scores, constant_images,
                                 mixer_and_model, own_weights,
                                 tiny_classifier)

from dm_plugin.models.mixers.dynamic import PuzzleMix
from dm_plugin.models.mixers.dynamic.labeling import (exact_labels,
                                                      grid_energy, icm_labels,
                                                      swap_labels)
from dm_plugin.models.mixers.dynamic.puzzlemix import (boundary_differences,
                                                       move_blocks,
                                                       rounded_energy,
                                                       transport_plan)
from dm_plugin.models.mixers.dynamic.utils import input_saliency
from dm_plugin.registry import build_mixer

CONFIG_DIR = Path(__file__).resolve().parents[3] / 'configs'


def random_energy(num=16, grid=3, num_labels=3, seed=7, weight=0.3):
    """Random float64 energies with PuzzleMix's label values (1, ..., 0)."""
    generator = torch.Generator().manual_seed(seed)
    shape = (num, grid, grid)
    unary = torch.rand(*shape, num_labels, generator=generator,
                       dtype=torch.float64)
    w_down = weight * torch.rand(num, grid - 1, grid, generator=generator,
                                 dtype=torch.float64)
    w_right = weight * torch.rand(num, grid, grid - 1, generator=generator,
                                  dtype=torch.float64)
    return unary, w_down, w_right, torch.linspace(
        1, 0, num_labels, dtype=torch.float64)


def puzzle_energy(num=12, grid=3, seed=8):
    """PuzzleMix's own energies: input-gradient saliency of a random tiny
    ResNet on smooth random images (rough, gradient-like), λ ~ U(0, 1)."""
    torch.manual_seed(seed)
    mixer, model = mixer_and_model(dict(type='PuzzleMix'))
    size = 4 * grid
    images = torch.nn.functional.interpolate(
        torch.randn(num, 3, 4, 4), size=size, mode='bilinear') * 60 + 120
    scores = torch.eye(6)[torch.arange(num) % 6]
    saliency = input_saliency(model, images, scores)
    terms = mixer.mask_terms(images, saliency, torch.rand(num),
                             torch.roll(torch.arange(num), 1), grid, 1 / 255)
    return tuple(t.double() for t in terms)


def brute_force_minimum(unary, w_down, w_right, values):
    """(N,) minimum energy over every labeling of each (small) grid."""
    num, gh, gw, num_labels = unary.shape
    every = torch.tensor(
        list(itertools.product(range(num_labels), repeat=gh * gw))).view(
            -1, gh, gw)
    return torch.stack([
        grid_energy(every, unary[n].expand(len(every), -1, -1, -1),
                    w_down[n].expand(len(every), -1, -1),
                    w_right[n].expand(len(every), -1, -1), values).min()
        for n in range(num)
    ])


# -------------------------------------------------------------- solvers


ENERGIES = {
    'random-3': lambda: random_energy(num_labels=3, weight=0.8),
    'random-4': lambda: random_energy(num_labels=4, weight=0.8, num=3),
    'puzzlemix-3': puzzle_energy,
}


@pytest.mark.parametrize('kind', ENERGIES)
def test_exact_labels_reach_the_brute_force_minimum(kind):
    energy = ENERGIES[kind]()
    labels = exact_labels(*energy)
    torch.testing.assert_close(
        grid_energy(labels, *energy), brute_force_minimum(*energy),
        rtol=0, atol=1e-12)


@pytest.mark.parametrize('grid', [3, 4])
def test_swap_labels_are_exact_with_two_labels(grid):
    energy = random_energy(num=8, grid=grid, num_labels=2, weight=0.8)
    torch.testing.assert_close(
        grid_energy(swap_labels(*energy), *energy),
        brute_force_minimum(*energy), rtol=0, atol=1e-12)


@pytest.mark.parametrize('kind', ['random-3', 'puzzlemix-3'])
def test_swap_labels_end_in_a_swap_local_minimum(kind):
    """At convergence no alpha-beta swap lowers the energy: brute force over
    every relabeling of the blocks of each label pair."""
    energy = ENERGIES[kind]()
    unary, w_down, w_right, values = energy
    labels = swap_labels(*energy)
    reached = grid_energy(labels, *energy)
    for n, (a, b) in itertools.product(range(len(labels)),
                                       [(0, 1), (0, 2), (1, 2)]):
        free = ((labels[n] == a) | (labels[n] == b)).flatten()
        if not free.any():
            continue
        choice = torch.tensor(
            list(itertools.product((a, b), repeat=int(free.sum()))))
        moved = labels[n].flatten().repeat(len(choice), 1)
        moved[:, free] = choice
        moved = moved.view(-1, *labels.shape[1:])
        energies = grid_energy(moved, unary[n].expand(len(moved), -1, -1, -1),
                               w_down[n].expand(len(moved), -1, -1),
                               w_right[n].expand(len(moved), -1, -1), values)
        assert energies.min() >= reached[n] - 1e-12


def test_swap_is_not_always_exact_with_three_labels():
    """The paper's solver is a local method: on strongly coupled random
    grids it misses the minimum sometimes, and never goes below it."""
    energy = random_energy(num=40, num_labels=3, weight=0.8)
    swap = grid_energy(swap_labels(*energy), *energy)
    best = brute_force_minimum(*energy)
    assert (swap >= best - 1e-12).all()
    assert (swap > best + 1e-9).any()


def test_batched_swap_equals_per_sample_swaps():
    energy = random_energy(num=10, grid=4, num_labels=3, weight=0.6)
    batched = swap_labels(*energy)
    for n in range(10):
        alone = swap_labels(*(t[n:n + 1] for t in energy[:3]), energy[3])
        assert torch.equal(batched[n:n + 1], alone)


def test_swap_starts_from_label_zero_and_keeps_it_on_ties():
    """As gco in the authors' code: every block starts at label 0 (the own
    image) and a move keeps the lower label on a tie."""
    unary = torch.zeros(2, 4, 4, 3, dtype=torch.float64)
    w_down = torch.full((2, 3, 4), 0.1, dtype=torch.float64)
    w_right = torch.full((2, 4, 3), 0.1, dtype=torch.float64)
    values = torch.linspace(1, 0, 3, dtype=torch.float64)
    assert (swap_labels(unary, w_down, w_right, values) == 0).all()
    unary[1, ..., 1:] = 0.5
    unary[1, 0, 0, 2] = -1.  # one block prefers label 2
    labels = swap_labels(unary, w_down, w_right, values)
    assert labels[1, 0, 0] == 2 and labels[1].sum() == 2
    assert (labels[0] == 0).all()


def integer_energy(num=12, grid=3, num_labels=3, high=10**5, seed=3):
    """Random integer energies (float64), the kind the mixer solves by
    default, with many exact ties between labelings."""
    unary, w_down, w_right, values = random_energy(num, grid, num_labels,
                                                   seed, weight=1.)
    return ((high * unary).floor(), (high * w_down).floor(),
            (high * w_right).floor(), values)


@pytest.mark.parametrize('num_labels', [3, 4])
def test_integer_energies_are_solved_exactly(num_labels):
    """No rounding error at all: exact reaches the brute force minimum and
    swap (2 labels: exact too) a swap-local one, to the last integer."""
    energy = integer_energy(num=8 if num_labels == 3 else 3,
                            num_labels=num_labels)
    best = brute_force_minimum(*energy)
    assert torch.equal(grid_energy(exact_labels(*energy), *energy), best)
    two = integer_energy(num_labels=2)
    assert torch.equal(grid_energy(swap_labels(*two), *two),
                       brute_force_minimum(*two))


@pytest.mark.parametrize('factor', [1e-12, 1e12])
def test_graph_cuts_hold_at_any_energy_scale(factor):
    """Capacities far beyond int32 (or far below 1) are scaled per grid:
    the labels do not change with the energy's scale."""
    energy = random_energy(num_labels=3, weight=0.8)
    scaled = tuple(t * factor for t in energy[:3]) + energy[3:]
    for solver in (swap_labels, exact_labels):
        assert torch.equal(solver(*scaled), solver(*energy))


def test_each_grid_is_scaled_on_its_own():
    """A grid batched with one a billion times larger keeps the labels it
    gets alone (a scale shared by the batch would round it to ties)."""
    small = random_energy(num=8, num_labels=3, weight=0.8)
    large = random_energy(num=8, num_labels=3, weight=0.8, seed=11)
    batch = tuple(torch.cat((a, 1e9 * b)) for a, b in zip(small[:3],
                                                          large[:3]))
    for solver in (swap_labels, exact_labels):
        assert torch.equal(solver(*batch, small[3])[:8], solver(*small))


@pytest.mark.parametrize('change, message', [
    (lambda energy: energy[1].__setitem__((0, 0, 0), -0.5),
     'negative edge weight'),
    (lambda energy: energy[0].__setitem__((0, 0, 0, 1), float('inf')),
     'non-finite unary'),
    (lambda energy: energy[2].__setitem__((0, 0, 0), float('nan')),
     'non-finite w_right'),
])
def test_graph_cuts_refuse_bad_energies(change, message):
    energy = random_energy()
    change(energy)
    for solver in (swap_labels, exact_labels):
        with pytest.raises(ValueError, match=message):
            solver(*energy)


def test_icm_reaches_a_local_minimum_below_its_starts():
    unary, w_down, w_right, values = random_energy()
    labels = icm_labels(unary, w_down, w_right, values, 4)
    energy = grid_energy(labels, unary, w_down, w_right, values)
    starts = [unary.argmin(-1)] + [
        torch.full_like(labels, k) for k in range(len(values))
    ]
    for start in starts:
        assert (energy <= grid_energy(start, unary, w_down, w_right, values)
                + 1e-12).all()
    for row, col, label in itertools.product(range(3), range(3), range(3)):
        moved = labels.clone()
        moved[:, row, col] = label
        assert (grid_energy(moved, unary, w_down, w_right, values) >=
                energy - 1e-12).all()


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


# --------------------------------------------------------------- energy


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


def test_unary_is_the_saliency_lost_plus_the_label_prior():
    """Label 0 shows the own image (value 1): it loses the partner's block
    saliency; the prior is -eta/g^2 log Binomial(own units; L-1, lam)."""
    mixer = PuzzleMix(gamma=0.)
    generator = torch.Generator().manual_seed(9)
    inputs = torch.rand(2, 3, 8, 8, generator=generator)
    saliency = torch.rand(2, 8, 8, generator=generator)
    lam = torch.tensor([0.3, 0.8])
    index = torch.tensor([1, 0])
    unary, w_down, w_right, values = mixer.mask_terms(
        inputs, saliency, lam, index, 2, 1.)
    assert values.tolist() == [1., 0.5, 0.]
    pooled = torch.nn.functional.avg_pool2d(saliency[:, None], 4)[:, 0]
    pooled = pooled / pooled.sum((1, 2), keepdim=True)
    for n, label in itertools.product(range(2), range(3)):
        own_units = 2 - label
        prob = (math.comb(2, own_units) * lam[n]**own_units *
                (1 - lam[n])**(2 - own_units))
        prior = -0.2 / 4 * torch.log(prob + 1e-8)
        own = values[label]
        expected = own * pooled[index[n]] + (1 - own) * pooled[n] + prior
        torch.testing.assert_close(unary[n, ..., label], expected)
    torch.testing.assert_close(w_down, torch.full((2, 1, 2), 1.2 / 2 / 16))
    torch.testing.assert_close(w_right, torch.full((2, 2, 1), 1.2 / 2 / 16))


def test_data_local_unary_is_split_as_the_authors_split_it():
    """The authors add to each block, per image it may show, the mean of
    each adjacent boundary's difference table over the neighbour's image
    (scaled by beta' gamma): the unary of label 0 (own image) and of label
    L-1 (partner) in absolute terms, not only up to a per-block constant,
    because their rounding to integers depends on it."""
    mixer = PuzzleMix()
    generator = torch.Generator().manual_seed(12)
    grid, num = 4, 3
    inputs = torch.rand(num, 3, 16, 16, generator=generator)
    saliency = torch.rand(num, 16, 16, generator=generator)
    lam, index = torch.tensor([0.2, 0.5, 0.7]), torch.tensor([1, 2, 0])
    unary = mixer.mask_terms(inputs, saliency, lam, index, grid, 1.)[0]
    down, right = boundary_differences(
        torch.stack((inputs[index], inputs)), (4, 4), (4, 4))
    sal = torch.nn.functional.avg_pool2d(saliency[:, None], 4)[:, 0]
    sal = sal / sal.sum((1, 2), keepdim=True)
    prior = mixer.label_prior(lam, grid)
    smooth = mixer.beta / grid / 16 * mixer.gamma
    for n, r, c in itertools.product(range(num), range(grid), range(grid)):
        shown = []
        for a in (0, 1):  # the block shows the partner (0) or its image (1)
            local = 0.
            if r < grid - 1:
                local += down[a, :, n, r, c].mean()
            if r > 0:
                local += down[:, a, n, r - 1, c].mean()
            if c < grid - 1:
                local += right[a, :, n, r, c].mean()
            if c > 0:
                local += right[:, a, n, r, c - 1].mean()
            lost = sal[n, r, c] if a == 0 else sal[index[n], r, c]
            shown.append(lost + smooth * local)
        for label, value in enumerate((1., 0.5, 0.)):
            expected = value * shown[1] + (1 - value) * shown[0] + \
                prior[n, label]
            torch.testing.assert_close(unary[n, r, c, label], expected)


def test_rounded_energy_truncates_1000_g2_x():
    unary = torch.tensor([0.0012345, 0.25, 1e-9]).view(1, 1, 1, 3).expand(
        1, 4, 4, 3)
    weights = torch.full((1, 3, 4), 0.0049)
    rounded = rounded_energy(unary, weights, weights)
    assert rounded[0][0, 0, 0].tolist() == [19., 4000., 0.]  # 16000 x
    assert (rounded[1] == 78.).all()  # 78.4


@pytest.mark.parametrize('solver', ['swap', 'icm'])
def test_rounding_ties_costs_within_one_unit(solver):
    """On a 2x2 grid a unit is 1 / 4000: label 2 is cheaper than label 0 by
    0.2 units, a tie once rounded, which label 0 keeps (as gco does)."""
    unary = torch.tensor([1e-4, 1e-3, 5e-5]).expand(1, 2, 2, 3)
    w_down, w_right = torch.zeros(1, 1, 2), torch.zeros(1, 2, 1)
    values = torch.tensor([1., 0.5, 0.])
    for round_energy, label in ((True, 0), (False, 2)):
        mixer = PuzzleMix(solver=solver, round_energy=round_energy)
        labels = mixer.solve_labels(unary, w_down, w_right, values)
        assert (labels == label).all()


@pytest.mark.parametrize('solver', [swap_labels, exact_labels])
def test_mixer_solves_the_rounded_energy_unless_told_not_to(solver):
    energy = puzzle_energy(num=6, grid=4)
    terms = [t.float() for t in energy]
    name = solver.__name__.split('_')[0]
    rounded = PuzzleMix(solver=name).solve_labels(*terms)
    integer = [t.double() for t in rounded_energy(*terms[:3])]
    assert torch.equal(rounded, solver(*integer, energy[3]))
    plain = PuzzleMix(solver=name, round_energy=False).solve_labels(*terms)
    assert torch.equal(plain, solver(*(t.double() for t in terms)))


@pytest.mark.parametrize('lam, expected', [(0.9, 1.), (0.6, 0.5),
                                           (0.5, 0.5), (0.1, 0.)])
@pytest.mark.parametrize('solver', ['swap', 'exact', 'icm'])
def test_prior_sets_the_mask_when_saliency_is_flat(lam, expected, solver):
    """With flat saliency and flat images only the label prior is left, and
    every block takes the most likely value under Binomial(2, lam)."""
    mixer = PuzzleMix(solver=solver)
    inputs = constant_images(4, height=16, width=16)
    index = torch.tensor([1, 0, 3, 2])
    terms = mixer.mask_terms(inputs, torch.ones(4, 16, 16),
                             torch.full((4, ), lam), index, 4, 1. / 255)
    labels = mixer.solve_labels(*terms)
    assert (terms[3][labels] == expected).all()


def test_mask_mean_follows_lambda():
    torch.manual_seed(6)
    mixer, model = mixer_and_model(dict(type='PuzzleMix', block_nums=(4, )))
    inputs = torch.randn(8, 3, 16, 16)
    saliency = input_saliency(model, inputs, torch.eye(6)[torch.arange(8) %
                                                          6])
    index = torch.roll(torch.arange(8), 1)
    means = []
    for lam in (0.2, 0.5, 0.8):
        terms = mixer.mask_terms(inputs, saliency, torch.full((8, ), lam),
                                 index, 4, 1. / 255)
        means.append(terms[3][mixer.solve_labels(*terms)].mean().item())
    assert means[0] < 0.5 < means[2] and means[0] < means[1] < means[2]


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


# ------------------------------------------------------------ the mixer


@pytest.mark.parametrize('solver', ['swap', 'exact', 'icm'])
def test_mask_is_blockwise_with_label_values(solver):
    torch.manual_seed(5)
    mixer, model = mixer_and_model(
        dict(type='PuzzleMix', block_nums=(4, ), solver=solver))
    mixed, mixed_scores = mixer(constant_images(6), torch.eye(6),
                                model=model)
    check_mixed_scores(mixed_scores, 6)
    weight = own_weights(mixed, mixed_scores)
    blocks = weight.view(6, 4, 4, 4, 4)
    torch.testing.assert_close(
        blocks, blocks[:, :, :1, :, :1].expand_as(blocks))
    labels = torch.tensor([0., 0.5, 1.])
    assert ((weight[..., None] - labels).abs().amin(-1) < 1e-6).all()
    torch.testing.assert_close(weight.flatten(1).mean(1),
                               mixed_scores.diagonal())


def block_coded_images(num=2, size=32, cell=4):
    """(N, 3, size, size) images whose every ``cell`` x ``cell`` block has
    its own value, unique across the batch."""
    cells = size // cell
    codes = 1. + torch.arange(num * cells * cells, dtype=torch.float32)
    codes = codes.view(num, 1, cells, cells)
    return codes.repeat_interleave(cell, -2).repeat_interleave(
        cell, -1).expand(num, 3, size, size).clone()


@pytest.mark.parametrize('transport', [True, False])
def test_transport_shows_a_salient_block_the_mask_hides(transport):
    """Image A has saliency on its left half and a salient 4x4 block in its
    top-right quarter; image B only in its top-right quarter. The labeling
    (2x2 grid) gives that quarter to B, hiding A's block there; transport
    moves it to where A shows, in both mixed images (A as own image and as
    partner). Without transport it stays hidden."""
    mixer, model = mixer_and_model(
        dict(type='PuzzleMix', mode='pair', block_nums=(2, ), n_labels=2,
             beta=0., gamma=0., transport=transport))
    saliency = torch.zeros(2, 32, 32)
    saliency[0, :, :16] = 1.
    saliency[0, 4:8, 20:24] = 32.  # A's spike: half of its saliency
    saliency[1, :16, 16:] = 1.
    mixer.saliency = lambda *args: saliency
    mixer.sample_lam = lambda index: torch.full((len(index), ), 0.5)
    images = block_coded_images()
    spike = images[0, 0, 4, 20].item()
    mixed, mixed_scores = mixer(images, torch.eye(6)[:2], model=model)
    check_mixed_scores(mixed_scores, 2, pair=True)
    torch.testing.assert_close(mixed_scores[:, :2],
                               torch.tensor([[0.75, 0.25], [0.5, 0.5]]))
    for n in range(2):
        assert bool((mixed[n] == spike).any()) is transport
    # A block keeps its content when it moves: every 4x4 cell is whole.
    cells = mixed[:, 0].unfold(1, 4, 4).unfold(2, 4, 4)
    assert (cells == cells[..., :1, :1]).all()


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


def test_refuses_sizes_no_grid_divides():
    mixer, model = mixer_and_model(dict(type='PuzzleMix'))
    with pytest.raises(ValueError, match='divides'):
        mixer(torch.randn(2, 3, 9, 23), torch.eye(6)[:2], model=model)


@pytest.mark.parametrize('t_grid, grid, size, expected', [
    (8, 2, (32, 32), 8), (8, 4, (32, 32), 8), (8, 8, (32, 32), 8),
    (8, 16, (32, 32), 16), (8, 2, (224, 224), 8), (8, 16, (224, 224), 16),
    (8, 2, (16, 24), 8), (8, 2, (12, 12), 2), (8, 4, (12, 12), 4),
    (None, 2, (64, 64), 2), (None, 8, (224, 224), 8)])
def test_transport_grid(t_grid, grid, size, expected):
    """``t_grid`` cells where they refine the labeling grid; ``None``: the
    labeling grid (the authors' ``t_size=-1``)."""
    assert PuzzleMix(t_grid=t_grid).transport_grid(grid, *size) == expected


# ------------------------------------------------------- clean-input loss


def test_clean_loss_is_the_weighted_ce_of_a_train_mode_pass():
    """``clean_loss_weight``: the saliency pass runs in the model's (train)
    mode, as the authors' ``clean_lam``; its CE on the clean batch is handed
    over once as ``loss_clean`` and trains the classifier."""
    torch.manual_seed(13)
    mixer, model = mixer_and_model(
        dict(type='PuzzleMix', clean_loss_weight=2.))
    model.train()
    inputs, scores = torch.randn(4, 3, 16, 16), torch.eye(6)[:4]
    leaf = inputs.clone().requires_grad_(True)
    logits = model.head(model.extract_feat(leaf))
    expected = -(scores * logits.log_softmax(1)).sum(1)
    expected.sum().backward()
    saliency = mixer.saliency(model, inputs, scores)
    torch.testing.assert_close(saliency, leaf.grad.square().mean(1).sqrt())
    model.zero_grad()
    running = model.backbone.bn1.running_mean.clone()
    mixer(inputs, scores, model=model)
    losses = mixer.pop_losses()
    torch.testing.assert_close(losses['loss_clean'],
                               2. * expected.detach().mean())
    assert mixer.pop_losses() == {}
    assert not torch.equal(model.backbone.bn1.running_mean, running)
    losses['loss_clean'].backward()
    assert model.head.fc.weight.grad.abs().sum() > 0


def test_clean_loss_reaches_the_classifier_losses():
    torch.manual_seed(14)
    model = tiny_classifier(
        mixer=dict(type='PuzzleMix', clean_loss_weight=1.))
    samples = [DataSample().set_gt_label(k % 6) for k in range(4)]
    losses = model.loss(torch.randn(4, 3, 16, 16), samples)
    assert {'loss_clean', 'loss_mce', 'mix_time'} <= set(losses)
    assert losses['loss_clean'].requires_grad


@pytest.mark.parametrize('cfg, error, message', [
    (dict(solver='gco'), ValueError, 'solver'),
    (dict(clean_loss_weight=-1.), ValueError, 'clean_loss_weight'),
    (dict(t_grid=0), ValueError, 't_grid'),
    (dict(icm_iters=0), ValueError, 'icm_iters'),
    (dict(round_energy=1), TypeError, 'round_energy'),
])
def test_bad_arguments_name_the_argument(cfg, error, message):
    with pytest.raises(error, match=message):
        build_mixer(dict(type='PuzzleMix', **cfg))


# -------------------------------------------------------------- configs

SMALL_IMAGE = ('cifar10', 'cifar100')


@pytest.mark.parametrize(
    'path', sorted(CONFIG_DIR.glob('*/*_puzzlemix_*.py')),
    ids=lambda p: f'{p.parent.name}/{p.name}')
def test_configs_follow_openmixup_puzzlemix_settings(path):
    """CIFAR: g in {2, 4, 8, 16}, 4-pixel transport blocks (the mixer's
    defaults); the others: g in {2, 4, 8}, transport on the labeling grid
    (OpenMixup's block_num=4, t_size=-1). The graph-cut solver, alpha 1,
    and each header names its source."""
    cfg = Config.fromfile(str(path))
    mixer = build_mixer(cfg.model.mixer)
    assert (mixer.solver, mixer.alpha, mixer.n_labels) == ('swap', 1.0, 3)
    if path.parent.name in SMALL_IMAGE or path.parent.name == 'protocol':
        assert mixer.block_nums == (2, 4, 8, 16) and mixer.t_grid == 8
    else:
        assert mixer.block_nums == (2, 4, 8) and mixer.t_grid is None
    assert 'openmixup' in path.read_text().lower()
