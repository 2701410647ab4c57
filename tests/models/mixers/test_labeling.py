"""The graph cut under PuzzleMix's labeling solvers: ``min_cut`` against
brute force and against a plain max-flow, its graphs of whole grids, and
the rounding of its capacities (the solvers themselves are checked in
test_puzzlemix.py)."""
import itertools

import numpy as np
import pytest
import torch
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import breadth_first_order, maximum_flow

from dm_plugin.models.mixers.dynamic import labeling
from dm_plugin.models.mixers.dynamic.labeling import (exact_labels,
                                                      graph_bounds,
                                                      grid_energy, min_cut,
                                                      rounded, swap_labels)


def random_graph(grids, size, slots, seed, high=3, infinite=0.):
    """Random integer capacities on ``grids`` disjoint graphs of ``size``
    nodes (many exact ties): (V,) node grid, (K, V) tails and incoming
    capacities (0: no edge; a share ``infinite`` of the edges is
    infinite), (V,) source and sink capacities."""
    rng = np.random.default_rng(seed)
    num = grids * size
    node_grid = np.arange(grids).repeat(size)
    local = np.arange(num) % size
    # Slot k of node v: an edge from a distinct other node of its grid,
    # ascending.
    offsets = np.sort(
        np.stack([rng.choice(size - 1, slots, replace=False) + 1
                  for _ in range(num)]), axis=1).T
    tails = node_grid * size + (local + offsets) % size
    tails.sort(axis=0)
    incoming = rng.integers(0, high + 1, tails.shape).astype(float)
    incoming[rng.random(tails.shape) < infinite] = np.inf
    source_cap, sink_cap = (rng.integers(0, high + 1, num).astype(float)
                            for _ in range(2))
    return node_grid, tails, incoming, source_cap, sink_cap


def cut_costs(graph, sides):
    """(S,) capacity of the cuts whose source sides are the rows of
    ``sides`` (S, V) bool."""
    _, tails, incoming, source_cap, sink_cap = graph
    heads = np.broadcast_to(np.arange(tails.shape[1]), tails.shape)
    crossing = sides[:, tails] & ~sides[:, heads]  # tail in S, head not
    edges = np.where(crossing, incoming, 0.).sum(axis=(1, 2))
    return edges + np.where(sides, sink_cap, source_cap).sum(1)


def brute_force_sink_side(graph):
    """The sink side of the min cut with the largest source side, over
    every cut of the (small) graph."""
    num = len(graph[0])
    sides = np.array(list(itertools.product((False, True), repeat=num)))
    costs = cut_costs(graph, sides)
    best = sides[costs == costs.min()]
    largest = best[best.sum(1).argmax()]
    assert (best <= largest).all()  # the min cuts' source sides: a lattice
    return ~largest


def plain_sink_side(graph):
    """The nodes reaching the sink in the residual graph of a maximum flow,
    one SciPy max-flow on the whole graph given as COO edges (infinite:
    more than all finite capacities)."""
    _, tails, incoming, source_cap, sink_cap = graph
    num = len(source_cap)
    heads = np.broadcast_to(np.arange(num), tails.shape)
    finite = np.isfinite(incoming)
    beyond = incoming[finite].sum() + source_cap.sum() + sink_cap.sum() + 1
    caps = np.concatenate((np.where(finite, incoming, beyond).ravel(),
                           source_cap, sink_cap)).astype(np.int32)
    starts = np.concatenate((tails.ravel(), np.full(num, num), np.arange(num)))
    ends = np.concatenate((heads.ravel(), np.arange(num),
                           np.full(num, num + 1)))
    graph = csr_matrix((caps, (starts, ends)), shape=(num + 2, num + 2))
    residual = graph - maximum_flow(graph, num, num + 1).flow
    # What reaches the sink: what the sink reaches along reversed edges.
    reached = breadth_first_order(residual.T.tocsr(), num + 1,
                                  return_predecessors=False)
    return np.isin(np.arange(num), reached)


@pytest.mark.parametrize('seed', range(6))
def test_min_cut_is_the_largest_source_side_min_cut(seed, monkeypatch):
    """Against brute force on tied integer capacities, the grids cut in
    several graphs, some edges infinite."""
    monkeypatch.setattr(labeling, 'GRAPH_NODES', 14)
    graph = random_graph(grids=4, size=7, slots=2, seed=seed, high=2,
                         infinite=0.1 * (seed % 2))
    expected = np.concatenate([
        brute_force_sink_side(tuple(
            part[..., grid * 7:(grid + 1) * 7] - (grid * 7 if i == 1 else 0)
            for i, part in enumerate(graph))) for grid in range(4)
    ])
    assert np.array_equal(min_cut(*graph, unit=1.), expected)


@pytest.mark.parametrize('nodes', [10**6, 60, 25])
def test_min_cut_equals_one_plain_max_flow(nodes, monkeypatch):
    """Larger random graphs with ties: the same cut as one max-flow on the
    whole graph built the plain way, however the grids are grouped."""
    monkeypatch.setattr(labeling, 'GRAPH_NODES', nodes)
    for seed in range(4):
        graph = random_graph(grids=6, size=20, slots=4, seed=seed,
                             infinite=0.05)
        assert np.array_equal(min_cut(*graph, unit=1.),
                              plain_sink_side(graph))


@pytest.mark.parametrize('size', [1, 4, 7, 100])
def test_graph_bounds_hold_whole_grids(size, monkeypatch):
    """Consecutive ranges covering every node, cut between grids, about
    GRAPH_NODES nodes each (one grid more at most)."""
    monkeypatch.setattr(labeling, 'GRAPH_NODES', size)
    grid_sizes = [3, 1, 4, 2, 5, 3, 1, 1, 4, 2]
    node_grid = np.arange(10).repeat(grid_sizes)
    starts, stops = np.array(list(graph_bounds(node_grid))).T
    assert starts[0] == 0 and stops[-1] == len(node_grid)
    assert (starts[1:] == stops[:-1]).all() and (stops > starts).all()
    assert (node_grid[starts[1:]] != node_grid[starts[1:] - 1]).all()
    parts = -(-len(node_grid) // size)
    assert len(starts) <= parts
    assert (stops - starts < len(node_grid) / parts + max(grid_sizes)).all()
    if size == 1:
        assert len(starts) == 10  # every grid alone


def puzzle_like_energy(num=6, grid=6, seed=0):
    """Integer energies with smooth unaries and strong edges, as
    PuzzleMix's at large grids (long augmenting paths)."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(num, 3, 2, 2, generator=generator,
                        dtype=torch.float64)
    unary = torch.nn.functional.interpolate(
        coarse, size=grid, mode='bilinear').permute(0, 2, 3, 1)
    unary = (1000 * unary).floor()
    w_down = (300 * torch.rand(num, grid - 1, grid, generator=generator,
                               dtype=torch.float64)).floor()
    w_right = (300 * torch.rand(num, grid, grid - 1, generator=generator,
                                dtype=torch.float64)).floor()
    return unary, w_down, w_right, torch.linspace(1, 0, 3,
                                                  dtype=torch.float64)


@pytest.mark.parametrize('solver', [swap_labels, exact_labels])
def test_labels_do_not_depend_on_the_graph_grouping(solver, monkeypatch):
    energy = puzzle_like_energy()
    whole = solver(*energy)
    monkeypatch.setattr(labeling, 'GRAPH_NODES', 1)  # a graph per grid
    assert torch.equal(solver(*energy), whole)


def test_rounded_is_rint_to_even():
    values = np.concatenate(
        (np.arange(0, 20, 0.25), [2.**29 + 0.5, 2.**30 - 0.5, 1e-300, 0.]))
    assert np.array_equal(rounded(values), np.rint(values).astype(np.int32))


def reference_swap(unary, w_down, w_right, values):
    """Alpha-beta swap on one (small) grid by brute force, without leaving
    out any move: each move takes, among the best labelings of its blocks,
    the one with label ``a`` on the most blocks (the union of the best
    ones' ``a`` blocks, as the min cut with the largest source side)."""
    labels = torch.zeros(unary.shape[:2], dtype=torch.long)
    num_labels = unary.shape[-1]

    def energy(candidates):
        count = len(candidates)
        return grid_energy(candidates, unary.expand(count, -1, -1, -1),
                           w_down.expand(count, -1, -1),
                           w_right.expand(count, -1, -1), values)

    pairs = [(a, b) for a in range(num_labels)
             for b in range(num_labels - 1, a, -1)]
    reached = energy(labels[None])[0]
    while True:
        for a, b in pairs:
            free = ((labels == a) | (labels == b)).flatten()
            if not free.any():
                continue
            to_b = torch.tensor(list(
                itertools.product((False, True), repeat=int(free.sum()))))
            moved = labels.flatten().repeat(len(to_b), 1)
            moved[:, free] = torch.where(to_b, b, a)
            costs = energy(moved.view(-1, *labels.shape))
            best = to_b[costs == costs.min()]
            labels = labels.flatten()
            labels[free] = torch.where(best.all(0), b, a)
            labels = labels.view(unary.shape[:2])
        new = energy(labels[None])[0]
        if not new < reached:
            return labels
        reached = new


@pytest.mark.parametrize('seed', range(3))
def test_swap_labels_equal_a_brute_force_swap(seed):
    """The whole batched solve, moves left out included, against plain
    per-grid cycles of brute-force moves on tied integer energies."""
    generator = torch.Generator().manual_seed(seed)
    num, grid = 8, 3
    unary = torch.randint(0, 6, (num, grid, grid, 3), generator=generator)
    w_down = torch.randint(0, 4, (num, grid - 1, grid), generator=generator)
    w_right = torch.randint(0, 4, (num, grid, grid - 1), generator=generator)
    energy = tuple(t.double() for t in (unary, w_down, w_right)) + (
        torch.linspace(1, 0, 3, dtype=torch.float64), )
    labels = swap_labels(*energy)
    for n in range(num):
        expected = reference_swap(*(t[n] for t in energy[:3]), energy[3])
        assert torch.equal(labels[n], expected)
