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
are batched: each graph holds the grids of the whole batch as disjoint
components, so a move costs one graph build and one max-flow call for the
batch, with no loop over samples or blocks in Python. The cut read off a
maximum flow is the min cut with the largest source side (the sink side is
what reaches the sink in the residual graph), a property of each component
alone; capacities are scaled per grid (:func:`min_cut`). So a batched solve
equals per-sample solves.

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


def grid_edges(shape):
    """(E,) first and second block (flat index) of every down and right edge
    of a batch of grids of ``shape`` (N, gh, gw): down edges first."""
    flat = np.arange(np.prod(shape)).reshape(shape)
    first = np.concatenate((flat[:, :-1].ravel(), flat[:, :, :-1].ravel()))
    second = np.concatenate((flat[:, 1:].ravel(), flat[:, :, 1:].ravel()))
    return first, second


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


def min_cut(node_grid: np.ndarray, tails: np.ndarray, heads: np.ndarray,
            capacity: np.ndarray, source_cap: np.ndarray,
            sink_cap: np.ndarray, unit: float) -> np.ndarray:
    """(V,) bool, True for the nodes on the sink side of the minimum s-t cut
    with the largest source side: the nodes that reach the sink in the
    residual graph of a maximum flow (SciPy's Dinic max-flow).

    The graph is a union of grids: node ``v`` belongs to grid
    ``node_grid[v]`` and edges join nodes of one grid. Each grid's
    capacities are scaled to int32 on their own (module docstring), so a
    grid's cut does not depend on the others.

    Args:
        node_grid (ndarray): (V,) grid index of each node.
        tails, heads, capacity (ndarray): (E,) directed edges between nodes
            and their capacities (>= 0; ``inf``: an edge no finite cut cuts,
            given the grid's total + 1).
        source_cap, sink_cap (ndarray): (V,) capacities of the edges
            source -> node and node -> sink (>= 0).
        unit (float): Capacities are scaled by ``unit * 2^k`` per grid.
    """
    num = len(node_grid)
    source, sink = num, num + 1
    finite = np.isfinite(capacity)
    edge_grid = node_grid[tails]
    total = np.bincount(node_grid, source_cap + sink_cap,
                        minlength=node_grid.max(initial=0) + 1)
    total += np.bincount(edge_grid[finite], capacity[finite],
                         minlength=len(total))
    # unit * total = m 2^e with m < 1: scaled by unit 2^(bits - e).
    scale = unit * np.ldexp(1., BUDGET_BITS - np.frexp(unit * total)[1])

    def scaled(caps, grid):
        return np.rint(caps * scale[grid]).astype(np.int64)

    inner = np.zeros(len(capacity), dtype=np.int64)
    inner[finite] = scaled(capacity[finite], edge_grid[finite])
    from_source, to_sink = (scaled(c, node_grid)
                            for c in (source_cap, sink_cap))
    infinite = 1 + np.bincount(node_grid, from_source + to_sink,
                               minlength=len(total))
    infinite += np.bincount(edge_grid, inner, minlength=len(total))
    inner[~finite] = infinite[edge_grid[~finite]]
    # The graph with every edge reversed, its flow from the sink: what the
    # sink reaches in its residual graph is what reaches the sink here.
    nodes = np.arange(num)
    ends = np.concatenate((heads, nodes, np.full(num, sink)))
    starts = np.concatenate((tails, np.full(num, source), nodes))
    data = np.concatenate((inner, from_source, to_sink))
    used = data > 0
    reverse = csr_matrix(
        (data[used].astype(np.int32), (ends[used], starts[used])),
        shape=(num + 2, num + 2))
    residual = reverse - maximum_flow(reverse, sink, source).flow
    residual.data = (residual.data > 0).astype(np.int8)
    residual.eliminate_zeros()
    reached = breadth_first_order(
        residual, sink, directed=True, return_predecessors=False)
    on_sink_side = np.zeros(num + 2, dtype=bool)
    on_sink_side[reached] = True
    return on_sink_side[:num]


def swap_move(labels: np.ndarray, movable: np.ndarray, unary: np.ndarray,
              edges, weights: np.ndarray, values: np.ndarray,
              block_grid: np.ndarray, unit: float, alpha: int,
              beta: int) -> None:
    """One alpha-beta swap move on every grid, in place, on flat arrays:
    (B,) labels, (B,) blocks allowed to move, (B, L) unary costs, the
    (E,) edge ends and weights, (B,) grid of each block. The ``movable``
    blocks labelled ``alpha`` or ``beta`` take the best labeling among those
    two labels given the other blocks (one min cut; ties go to ``alpha``,
    as in gco)."""
    active = movable & ((labels == alpha) | (labels == beta))
    count = int(active.sum())
    if count == 0:
        return
    node = np.full(labels.shape, -1)
    node[active] = np.arange(count)
    first, second = edges
    # Data costs of the two labels, plus the edges to blocks that stay.
    costs = []
    for label in (alpha, beta):
        cost = unary[active, label]
        for here, there in ((first, second), (second, first)):
            fixed = active[here] & ~active[there]
            cost = cost + np.bincount(
                node[here[fixed]],
                weights[fixed] * (values[label] -
                                  values[labels[there[fixed]]])**2,
                minlength=count)
        costs.append(cost)
    inner = active[first] & active[second]
    capacity = weights[inner] * (values[alpha] - values[beta])**2
    tails, heads = node[first[inner]], node[second[inner]]
    # A block on the sink side takes beta and cuts its source edge; only
    # the difference of the two costs matters.
    gain = costs[1] - costs[0]
    to_beta = min_cut(block_grid[active], np.concatenate((tails, heads)),
                      np.concatenate((heads, tails)),
                      np.concatenate((capacity, capacity)),
                      np.maximum(gain, 0), np.maximum(-gain, 0), unit)
    labels[active] = np.where(to_beta, beta, alpha)


def swap_labels(unary: torch.Tensor, w_down: torch.Tensor,
                w_right: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """(N, gh, gw) labels by alpha-beta swap to convergence, on the CPU.

    As gco's swap runs in the PuzzleMix authors' code (pygco
    ``cut_grid_graph(..., algorithm='swap')``): every block starts at label
    0; a cycle swaps the label pairs ``(a, b)``, ``a < b``, for ``a`` = 0,
    1, ... and ``b`` from ``L - 1`` down to ``a + 1``, each move applied as
    its min cut gives it (ties to ``a``); cycles repeat until one does not
    lower the energy. Grids stop one by one: a grid that has converged is
    left out of the next cycles, so the result equals per-grid runs.

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
    flat_unary = unary.reshape(-1, num_labels).numpy()
    weights = torch.cat((w_down.flatten(), w_right.flatten())).numpy()
    edges = grid_edges((num, gh, gw))
    label_values = values.numpy()
    block_grid = np.arange(num).repeat(gh * gw)
    unit = capacity_unit(values)
    labels = torch.zeros(num, gh, gw, dtype=torch.long)
    flat = labels.view(-1).numpy()  # shares memory with labels
    energy = grid_energy(labels, unary, w_down, w_right, values)
    live = torch.ones(num, dtype=torch.bool)
    while live.any():
        movable = live[:, None].expand(num, gh * gw).flatten().numpy()
        for alpha, beta in pairs:
            swap_move(flat, movable, flat_unary, edges, weights,
                      label_values, block_grid, unit, alpha, beta)
        new_energy = grid_energy(labels, unary, w_down, w_right, values)
        live &= new_energy < energy
        energy = new_energy
    return labels


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
    blocks = num * gh * gw
    node = torch.arange(blocks * levels).view(num, gh, gw, levels)
    # Source -> x_i1 and x_i,L-1 -> sink; along each chain x_ia -> x_i,a+1
    # and back (infinite); x_ia -> x_jb across each grid edge.
    tails, heads, capacity = [node[..., :-1]], [node[..., 1:]], [
        chain[..., 1:-1]
    ]
    tails.append(node[..., 1:])
    heads.append(node[..., :-1])
    capacity.append(torch.full_like(chain[..., 1:-1], float('inf')))
    for src, dst, weight in ((node[:, :-1], node[:, 1:], w_down),
                             (node[:, :, :-1], node[:, :, 1:], w_right)):
        across = weight[..., None, None] * cross
        tails.append(src[..., :, None].expand(across.shape))
        heads.append(dst[..., None, :].expand(across.shape))
        capacity.append(across)
    source_cap = torch.zeros(num, gh, gw, levels, dtype=chain.dtype)
    sink_cap = torch.zeros_like(source_cap)
    source_cap[..., 0] = chain[..., 0]
    sink_cap[..., -1] = chain[..., -1]
    flat = [torch.cat([t.flatten() for t in parts]).numpy()
            for parts in (tails, heads, capacity)]
    on_sink_side = min_cut(
        np.arange(num).repeat(gh * gw * levels), *flat,
        source_cap.flatten().numpy(), sink_cap.flatten().numpy(),
        capacity_unit(values))
    on_source = ~torch.from_numpy(on_sink_side)
    return on_source.view(num, gh, gw, levels).sum(dim=-1)
