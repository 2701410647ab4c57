"""Solvers of PuzzleMix's block labeling.

A batch of independent ``gh x gw`` grids; block ``i`` of grid ``n`` takes a
label ``l`` of value ``values[l]``, and the labeling minimises::

    E(l) = sum_i U_i(l_i) + sum_{i~j} w_ij (values[l_i] - values[l_j])^2

over 4-connected neighbours ``i~j``, with unary costs ``U`` (N, gh, gw, L)
and non-negative edge weights ``w_down`` (N, gh-1, gw) (block above to block
below) and ``w_right`` (N, gh, gw-1) (block left to block right).

- :func:`swap_labels`: alpha-beta swap graph cuts to convergence (Boykov,
  Veksler, Zabih, TPAMI 2001), the solver of the PuzzleMix paper and of its
  authors' code, run the way their gco call runs it (see the function).
- :func:`exact_labels`: the exact minimiser, one min cut on Ishikawa's
  layered graph (TPAMI 2003; it needs monotone ``values``, for which the
  pairwise term is submodular on the chain of labels).
- :func:`icm_labels`: iterated conditional modes, vectorised on the device
  (a fast approximation: it stops in local minima).

The graph cuts run on the CPU, as the published method solves, with SciPy's
max-flow (Dinic's algorithm, ``scipy.sparse.csgraph.maximum_flow``). They
are batched: a move builds one graph holding the grids of the whole batch as
disjoint components, with no loop over samples or blocks in Python, laid
out node by node (the edges into each node in fixed slots) so that its CSR
arrays need no sorting. The max-flow gets it in pieces of whole grids of
about :data:`GRAPH_NODES` nodes: Dinic runs its phases over a whole graph
until the slowest of its components is done (one graph for a batch of 100
grids of 16 x 16 blocks takes about 1.4 times as long), and much smaller
pieces cost more in calls. The cut read off a maximum flow is the min cut
with the largest source side (the sink side is what reaches the sink in the
residual graph), a property of each component alone; capacities are scaled
per grid (:func:`min_cut`). So a batched solve equals per-sample solves.

SciPy's max-flow takes int32 capacities. Each grid's capacities are
multiplied by ``2^k / step^2`` (``step``: the smallest gap between label
values) with the largest integer ``k`` that keeps the grid's total below
``2^29``, and rounded: an energy whose unary costs and edge weights are
integers (PuzzleMix rounds it so by default, as the authors' gco call does)
is solved exactly for evenly spaced label values as long as its capacities
total less than ``2^29 step^2`` per grid (``k >= 0``); a float energy is
solved to a resolution of ``2^-29`` of that total.
"""
import numpy as np
import torch
import torch.nn.functional as F
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import breadth_first_order, maximum_flow


def neighbour_sums(values: torch.Tensor, w_down: torch.Tensor,
                   w_right: torch.Tensor):
    """For (N, gh, gw) block values and edge weights (N, gh-1, gw),
    (N, gh, gw-1): per block ``sum_j w_ij`` and ``sum_j w_ij v_j`` over its
    grid neighbours ``j``."""
    total = (F.pad(w_down, (0, 0, 0, 1)) + F.pad(w_down, (0, 0, 1, 0)) +
             F.pad(w_right, (0, 1)) + F.pad(w_right, (1, 0)))
    weighted = (F.pad(w_down * values[:, 1:], (0, 0, 0, 1)) +
                F.pad(w_down * values[:, :-1], (0, 0, 1, 0)) +
                F.pad(w_right * values[:, :, 1:], (0, 1)) +
                F.pad(w_right * values[:, :, :-1], (1, 0)))
    return total, weighted


def grid_energy(labels: torch.Tensor, unary: torch.Tensor,
                w_down: torch.Tensor, w_right: torch.Tensor,
                values: torch.Tensor) -> torch.Tensor:
    """(N,) energy ``E`` of (N, gh, gw) labels (module docstring)."""
    chosen = values[labels]
    down = w_down * (chosen[:, 1:] - chosen[:, :-1]).square()
    right = w_right * (chosen[:, :, 1:] - chosen[:, :, :-1]).square()
    return (unary.gather(-1, labels[..., None]).sum(dim=(1, 2, 3)) +
            down.sum(dim=(1, 2)) + right.sum(dim=(1, 2)))


def icm_labels(unary: torch.Tensor, w_down: torch.Tensor,
               w_right: torch.Tensor, values: torch.Tensor,
               iters: int) -> torch.Tensor:
    """(N, gh, gw) labels lowering :func:`grid_energy` by checkerboard
    iterated conditional modes (``iters`` rounds, each updating both
    colours to their exact best label given the neighbours), run from
    ``L + 1`` starts (the unary minimiser and each constant labeling),
    keeping the lowest-energy result per sample."""
    num, gh, gw, num_labels = unary.shape
    starts = torch.arange(num_labels, device=unary.device)
    labels = torch.cat((unary.argmin(dim=-1)[None],
                        starts.view(-1, 1, 1, 1).expand(-1, num, gh, gw)))
    labels = labels.flatten(0, 1)
    unary, w_down, w_right = (t.repeat(num_labels + 1, *([1] * (t.dim() - 1)))
                              for t in (unary, w_down, w_right))
    rows = torch.arange(gh, device=unary.device)[:, None]
    colour = (rows + torch.arange(gw, device=unary.device)) % 2
    for _ in range(iters):
        for turn in (0, 1):
            total, weighted = neighbour_sums(values[labels], w_down, w_right)
            cost = (unary + values.square() * total[..., None] -
                    2 * values * weighted[..., None])
            labels = torch.where(colour == turn, cost.argmin(dim=-1), labels)
    energy = grid_energy(labels, unary, w_down, w_right, values)
    best = energy.view(-1, num).argmin(dim=0)
    return labels.view(-1, num, gh, gw)[best,
                                         torch.arange(num, device=best.device)]


def check_energy(unary: torch.Tensor, w_down: torch.Tensor,
                 w_right: torch.Tensor) -> None:
    """Graph cuts need a finite energy and non-negative edge weights (a
    submodular energy)."""
    for name, term in (('unary', unary), ('w_down', w_down),
                       ('w_right', w_right)):
        if not torch.isfinite(term).all():
            raise ValueError(f'the labeling energy has a non-finite {name} '
                             'term (inf or nan)')
    if (w_down < 0).any() or (w_right < 0).any():
        low = min(w_down.min().item() if w_down.numel() else 0.,
                  w_right.min().item() if w_right.numel() else 0.)
        raise ValueError(
            f'the labeling energy has a negative edge weight ({low:.3g}): '
            'graph cuts need w_ij >= 0 (for PuzzleMix, gamma <= 1 '
            'guarantees it)')


def grid_neighbours(w_down: torch.Tensor, w_right: torch.Tensor):
    """The 4-neighbours of the blocks of a batch of grids (flat block index
    ``(n gh + r) gw + c``) in the slot order up, left, right, down
    (ascending index): (4, B) neighbour (``B`` off the grid) and (4, B)
    weight of the edge to it (0 off the grid), numpy arrays, B = N gh
    gw."""
    num, gw = w_down.shape[0], w_down.shape[2]
    gh = w_right.shape[1]
    flat = np.arange(num * gh * gw).reshape(num, gh, gw)
    index = np.full((4, num, gh, gw), flat.size)
    weight = np.zeros((4, num, gh, gw))
    down, right = w_down.numpy(), w_right.numpy()
    for slot, here, there, edge in (
        (0, np.s_[:, 1:], np.s_[:, :-1], down),
        (1, np.s_[:, :, 1:], np.s_[:, :, :-1], right),
        (2, np.s_[:, :, :-1], np.s_[:, :, 1:], right),
        (3, np.s_[:, :-1], np.s_[:, 1:], down),
    ):
        index[slot][here] = flat[there]
        weight[slot][here] = edge
    return index.reshape(4, -1), weight.reshape(4, -1)


# Scaled capacities of one grid total less than 2^BUDGET_BITS: every int32
# the max-flow holds (an edge's residual is at most its capacity plus its
# reverse's, an infinite edge is the grid's total + 1) stays below 2^31.
BUDGET_BITS = 29


def capacity_unit(values: torch.Tensor) -> float:
    """``1 / step^2``, ``step`` the smallest gap between label values: the
    label distances ``(v_a - v_b)^2`` of evenly spaced values are integers
    in this unit (PuzzleMix's: ``(L-1)^2``)."""
    step = (values[:, None] - values[None]).abs()
    step = step[step > 0].min()
    return float(1 / step**2)


def rounded(values: np.ndarray) -> np.ndarray:
    """``np.rint`` of values in [0, 2^31) (ties to even) as int32, faster:
    adding 2^52 rounds them to integers."""
    return ((values + 2.**52) - 2.**52).astype(np.int32)


def integer_capacities(node_grid: np.ndarray, incoming: np.ndarray,
                       source_cap: np.ndarray, sink_cap: np.ndarray,
                       unit: float):
    """The capacities of :func:`min_cut` scaled per grid to integers
    (module docstring): (K, V) ``incoming``, (V,) ``source_cap`` and
    ``sink_cap``, int32; an infinite capacity becomes its grid's total +
    1."""
    grids = node_grid.max(initial=-1) + 1
    infinite = np.isinf(incoming)
    has_infinite = infinite.any()
    finite = np.where(infinite, 0., incoming) if has_infinite else incoming
    total = np.bincount(node_grid, source_cap + sink_cap + finite.sum(0),
                        minlength=grids)
    # unit * total = m 2^e with m < 1: scaled by unit 2^(bits - e).
    scale = unit * np.ldexp(1., BUDGET_BITS - np.frexp(unit * total)[1])
    node_scale = scale[node_grid]
    inner, from_source, to_sink = (rounded(caps * node_scale)
                                   for caps in (finite, source_cap, sink_cap))
    if has_infinite:
        beyond = 1 + np.bincount(node_grid, from_source + to_sink +
                                 inner.sum(0), minlength=grids)
        inner = np.where(infinite, beyond[node_grid].astype(np.int32), inner)
    return inner, from_source, to_sink


# Dinic's max-flow runs its phases over a whole graph until the slowest of
# its grids is done: the batch goes to it in graphs of about this many
# nodes (whole grids).
GRAPH_NODES = 4096


def graph_bounds(node_grid: np.ndarray):
    """``(start, stop)`` node ranges of whole grids, about
    :data:`GRAPH_NODES` nodes each, for (V,) ``node_grid`` grouped by
    grid."""
    num = len(node_grid)
    parts = max(1, -(-num // GRAPH_NODES))
    starts = np.append(np.flatnonzero(np.diff(node_grid, prepend=-1)), num)
    cuts = starts[np.searchsorted(starts, np.arange(1, parts) * num / parts)]
    bounds = np.unique(np.concatenate(((0, ), cuts, (num, ))))
    return zip(bounds[:-1], bounds[1:])


def sink_side(tails: np.ndarray, inner: np.ndarray, from_source: np.ndarray,
              to_sink: np.ndarray) -> np.ndarray:
    """(V,) bool: the nodes that reach the sink in the residual graph of a
    maximum flow, for (K, V) edges into the nodes (tails, int32
    capacities; 0: none) and (V,) int32 source and sink capacities."""
    num = len(from_source)
    source, sink = num, num + 1
    # The graph with every edge reversed, its flow from the sink: what the
    # sink reaches in its residual graph is what reaches the sink here.
    # Row v: the edges into v (reversed), then v -> source; the sink row:
    # the nodes with an edge to the sink; the source row is empty.
    caps = np.stack((*inner, from_source), axis=1)  # (V, K + 1)
    ends = np.stack((*tails, np.full(num, source, np.int32)), axis=1)
    used = caps > 0
    to_sink_nodes = np.flatnonzero(to_sink).astype(np.int32)
    indices = np.concatenate((ends[used], to_sink_nodes))
    data = np.concatenate((caps[used], to_sink[to_sink_nodes]))
    row_size = (inner > 0).sum(0) + (from_source > 0)
    indptr = np.concatenate(
        ((0, ), np.cumsum(row_size), (len(data) - len(to_sink_nodes),
                                      len(data))))
    reverse = csr_matrix((data, indices, indptr), shape=(num + 2, num + 2))
    residual = reverse - maximum_flow(reverse, sink, source).flow
    reached = breadth_first_order(
        residual, sink, directed=True, return_predecessors=False)
    on_sink_side = np.zeros(num + 2, dtype=bool)
    on_sink_side[reached] = True
    return on_sink_side[:num]


def min_cut(node_grid: np.ndarray, neighbours: np.ndarray,
            incoming: np.ndarray, source_cap: np.ndarray,
            sink_cap: np.ndarray, unit: float) -> np.ndarray:
    """(V,) bool, True for the nodes on the sink side of the minimum s-t cut
    with the largest source side: the nodes that reach the sink in the
    residual graph of a maximum flow (SciPy's Dinic max-flow).

    The graph is a union of grids: node ``v`` belongs to grid
    ``node_grid[v]`` (nodes grouped by grid) and edges join nodes of one
    grid. Each grid's capacities are scaled to int32 on their own (module
    docstring), so a grid's cut does not depend on the others, and the
    grids are cut in graphs of about :data:`GRAPH_NODES` nodes. The edges
    into each node come in ``K`` slots, so a graph reaches the max-flow as
    CSR arrays laid out node by node, without sorting.

    Args:
        node_grid (ndarray): (V,) grid index of each node.
        neighbours (ndarray): (K, V) the tail of the edge in each slot,
            ascending along the slots of a node where the edge exists.
        incoming (ndarray): (K, V) capacity of the edge
            ``neighbours[k, v] -> v`` (>= 0, each edge in one slot; ``inf``:
            an edge no finite cut cuts; 0: no edge, the tail is ignored).
        source_cap, sink_cap (ndarray): (V,) capacities of the edges
            source -> node and node -> sink (>= 0).
        unit (float): Capacities are scaled by ``unit * 2^k`` per grid.
    """
    inner, from_source, to_sink = integer_capacities(
        node_grid, incoming, source_cap, sink_cap, unit)
    return np.concatenate([
        sink_side(neighbours[:, start:stop] - int(start), inner[:, start:stop],
                  from_source[start:stop], to_sink[start:stop])
        for start, stop in graph_bounds(node_grid)
    ])


def swap_move(labels: np.ndarray, movable: np.ndarray, unary: np.ndarray,
              neighbours: np.ndarray, weights: np.ndarray,
              distance: np.ndarray, block_grid: np.ndarray, unit: float,
              alpha: int, beta: int) -> np.ndarray:
    """One alpha-beta swap move on the ``movable`` grids, in place, on flat
    arrays: (B + 1,) labels (the last one a sentinel), (N,) grids allowed
    to move, (L, B) unary costs, the (4, B) neighbours and edge weights of
    :func:`grid_neighbours`, the (L, L) label distances
    ``(v_a - v_b)^2``, (B,) grid of each block. Their blocks labelled
    ``alpha`` or ``beta`` take the best labeling among those two labels
    given the other blocks (one min cut; ties go to ``alpha``, as in gco).
    Returns the (N,) grids whose labels changed."""
    active = np.append(movable[block_grid], False)
    active &= (labels == alpha) | (labels == beta)
    blocks = np.flatnonzero(active)
    changed = np.zeros(len(movable), dtype=bool)
    if len(blocks) == 0:
        return changed
    around, weight = (table.take(blocks, axis=1)
                      for table in (neighbours, weights))
    moving = active.take(around)
    # Data costs of the two labels, plus the edges to blocks that stay
    # (summed down, right, up, left; no edge off the grid: weight 0).
    to_fixed = np.where(moving, 0., weight)
    near = labels.take(around)
    costs = []
    for label in (alpha, beta):
        term = to_fixed * distance[label].take(near)
        costs.append(unary[label].take(blocks) + (term[3] + term[2]) +
                     (term[0] + term[1]))
    node = np.cumsum(active, dtype=np.int32) - 1
    # A block on the sink side takes beta and cuts its source edge; only
    # the difference of the two costs matters.
    gain = costs[1] - costs[0]
    to_beta = min_cut(block_grid.take(blocks), node.take(around),
                      weight * moving * distance[alpha, beta],
                      np.maximum(gain, 0), np.maximum(-gain, 0), unit)
    moved = np.where(to_beta, beta, alpha)
    changed[block_grid[blocks[moved != labels[blocks]]]] = True
    labels[blocks] = moved
    return changed


def swap_labels(unary: torch.Tensor, w_down: torch.Tensor,
                w_right: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """(N, gh, gw) labels by alpha-beta swap to convergence, on the CPU.

    As gco's swap runs in the PuzzleMix authors' code (pygco
    ``cut_grid_graph(..., algorithm='swap')``): every block starts at label
    0; a cycle swaps the label pairs ``(a, b)``, ``a < b``, for ``a`` = 0,
    1, ... and ``b`` from ``L - 1`` down to ``a + 1``, each move applied as
    its min cut gives it (ties to ``a``); cycles repeat until one does not
    lower the energy. Grids stop one by one: a grid that has converged is
    left out of the next cycles, so the result equals per-grid runs. A move
    whose grid has not changed since its last move of the same pair is
    left out too: it would solve the same graph and keep the labels.

    Args:
        unary, w_down, w_right, values: the energy (module docstring), CPU
            tensors (float64 recommended); solved exactly when the unary
            costs and edge weights are integers (module docstring).

    Returns:
        Tensor: (N, gh, gw) int64 labels on the CPU.
    """
    check_energy(unary, w_down, w_right)
    num, gh, gw, num_labels = unary.shape
    pairs = [(a, b) for a in range(num_labels)
             for b in range(num_labels - 1, a, -1)]
    flat_unary = unary.reshape(-1, num_labels).numpy().T.copy()
    neighbours, weights = grid_neighbours(w_down, w_right)
    label_values = values.numpy()
    distance = (label_values[:, None] - label_values[None])**2
    block_grid = np.arange(num).repeat(gh * gw)
    unit = capacity_unit(values)
    flat = np.zeros(num * gh * gw + 1, dtype=np.int64)  # and a sentinel
    labels = torch.from_numpy(flat[:-1]).view(num, gh, gw)  # shares memory
    energy = grid_energy(labels, unary, w_down, w_right, values)
    live = torch.ones(num, dtype=torch.bool)
    # Grids whose labels changed since their last move of each pair.
    stale = np.ones((num, len(pairs)), dtype=bool)
    while live.any():
        for pair, (alpha, beta) in enumerate(pairs):
            movable = live.numpy() & stale[:, pair]
            changed = swap_move(flat, movable, flat_unary, neighbours,
                                weights, distance, block_grid, unit, alpha,
                                beta)
            stale[changed] = True
            stale[movable, pair] = False
        new_energy = grid_energy(labels, unary, w_down, w_right, values)
        live &= new_energy < energy
        energy = new_energy
    return labels


def layered_slots(chain: np.ndarray, around: np.ndarray,
                  weights: np.ndarray, cross: np.ndarray):
    """The edges into each node of Ishikawa's layered graph of
    :func:`exact_labels`, in the slots of :func:`min_cut`: (2 m + 2, B m)
    tails and capacities.

    Node ``x_ia`` (block ``i``, level ``a`` = 1..m, flat index
    ``i m + a - 1``) takes an edge from each level ``b`` of its up and left
    blocks (``w c_ba``), from the node below it in its chain (``U'_i(a)``)
    and from the one above (infinite): ascending tails.

    Args:
        chain (ndarray): (B, m + 1) the chain costs ``U'``.
        around, weights (ndarray): (4, B) of :func:`grid_neighbours`.
        cross (ndarray): (m, m) ``c_ab``.
    """
    blocks, levels = len(chain), len(cross)
    level = np.arange(levels)
    node = np.arange(blocks * levels).reshape(blocks, levels)
    shape = (levels, blocks, levels)  # (level there, block, level here)
    tails = [np.broadcast_to(around[side, None, :, None] * levels +
                             level[:, None, None], shape)
             for side in (0, 1)]  # up, left
    caps = [weights[side, None, :, None] * cross[:, None, :]
            for side in (0, 1)]
    tails += [node[None] - 1, node[None] + 1]
    caps += [np.where(level > 0, chain[:, :-1], 0.)[None],
             np.broadcast_to(np.where(level < levels - 1, np.inf, 0.),
                             (1, blocks, levels))]
    return (np.concatenate(tails).reshape(2 * levels + 2, -1).astype(
        np.int32),
            np.concatenate(caps).reshape(2 * levels + 2, -1))


def exact_labels(unary: torch.Tensor, w_down: torch.Tensor,
                 w_right: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """(N, gh, gw) labels of minimum energy: one min cut on Ishikawa's
    layered graph, on the CPU.

    Block ``i`` has ``L - 1`` nodes ``x_ia = [l_i >= a]``, a = 1..L-1, in a
    chain (source -> x_i1 -> ... -> x_i,L-1 -> sink, the edge leaving
    ``x_ia`` costing ``U'_i(a)``; infinite reverse edges keep the chain
    monotone). An edge's pairwise term ``G(p, q) = w (v_p - v_q)^2`` is
    ``sum_{a <= p, b > q} c_ab`` (edges ``x_ia -> x_jb`` of capacity
    ``w c_ab``, ``c_ab = 2 (v_a - v_a-1)(v_b - v_b-1) >= 0`` for monotone
    ``values``) plus a part separable in ``p`` and ``q``, moved into
    ``U'``. Arguments and result as :func:`swap_labels`.
    """
    check_energy(unary, w_down, w_right)
    num, gh, gw, num_labels = unary.shape
    step = values[1:] - values[:-1]
    if not ((step > 0).all() or (step < 0).all()):
        raise ValueError('exact_labels needs strictly monotone label values, '
                         f'got {values.tolist()}')
    levels = num_labels - 1
    cross = 2 * step[:, None] * step[None, :]  # c_ab, a and b in 1..L-1
    pairwise = (values[:, None] - values[None, :]).square()  # G / w
    # G(p, 0) - sum_{a <= p, b >= 1} c_ab and G(0, q): the separable part.
    first_part = pairwise[:, 0] - F.pad(cross.sum(1).cumsum(0), (1, 0))
    second_part = pairwise[0]
    moved = torch.zeros(num, gh, gw, num_labels, dtype=unary.dtype)
    moved[:, :-1] += w_down[..., None] * first_part
    moved[:, 1:] += w_down[..., None] * second_part
    moved[:, :, :-1] += w_right[..., None] * first_part
    moved[:, :, 1:] += w_right[..., None] * second_part
    chain = unary + moved
    chain = chain - chain.amin(dim=-1, keepdim=True)  # one cut per chain
    chain = chain.reshape(-1, num_labels).numpy()
    neighbours, incoming = layered_slots(chain, *grid_neighbours(w_down,
                                                                 w_right),
                                         cross.numpy())
    source_cap = np.zeros((len(chain), levels))
    sink_cap = np.zeros_like(source_cap)
    source_cap[:, 0] = chain[:, 0]
    sink_cap[:, -1] = chain[:, -1]
    on_sink_side = min_cut(
        np.arange(num).repeat(gh * gw * levels), neighbours, incoming,
        source_cap.ravel(), sink_cap.ravel(), capacity_unit(values))
    on_source = ~torch.from_numpy(on_sink_side)
    return on_source.view(num, gh, gw, levels).sum(dim=-1)
