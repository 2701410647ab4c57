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

The graph cuts run on the CPU with PyMaxflow (Boykov-Kolmogorov max-flow):
the published method solves there too. They are batched: each max-flow
graph holds the grids of the whole batch as disjoint components, so a move
costs one graph build and one max-flow call for the batch, with no loop over
samples or blocks in Python. A grid's min cut does not depend on the other
components (the returned cut is the one with the largest source side, a
property of the energy alone), so a batched solve equals per-sample solves.
"""
import maxflow
import numpy as np
import torch
import torch.nn.functional as F


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


def check_weights(w_down: torch.Tensor, w_right: torch.Tensor) -> None:
    """Graph cuts need non-negative edge weights (a submodular energy)."""
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


def swap_move(labels: np.ndarray, movable: np.ndarray, unary: np.ndarray,
              edges, weights: np.ndarray, values: np.ndarray, alpha: int,
              beta: int) -> None:
    """One alpha-beta swap move on every grid, in place, on flat arrays:
    (B,) labels, (B,) blocks allowed to move, (B, L) unary costs, the
    (E,) edge ends and weights. The ``movable`` blocks labelled ``alpha`` or
    ``beta`` take the best labeling among those two labels given the other
    blocks (one min cut; ties go to ``alpha``, as in gco)."""
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
    graph = maxflow.Graph[float](count, int(inner.sum()))
    graph.add_nodes(count)
    graph.add_edges(node[first[inner]], node[second[inner]], capacity,
                    capacity)
    # A block on the sink side takes beta and cuts its source edge.
    graph.add_grid_tedges(np.arange(count), costs[1], costs[0])
    graph.maxflow()
    to_beta = graph.get_grid_segments(np.arange(count))
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
            tensors (float64 recommended).

    Returns:
        Tensor: (N, gh, gw) int64 labels on the CPU.
    """
    check_weights(w_down, w_right)
    num, gh, gw, num_labels = unary.shape
    pairs = [(a, b) for a in range(num_labels)
             for b in range(num_labels - 1, a, -1)]
    flat_unary = unary.reshape(-1, num_labels).numpy()
    weights = torch.cat((w_down.flatten(), w_right.flatten())).numpy()
    edges = grid_edges((num, gh, gw))
    label_values = values.numpy()
    labels = torch.zeros(num, gh, gw, dtype=torch.long)
    flat = labels.view(-1).numpy()  # shares memory with labels
    energy = grid_energy(labels, unary, w_down, w_right, values)
    live = torch.ones(num, dtype=torch.bool)
    while live.any():
        movable = live[:, None].expand(num, gh * gw).flatten().numpy()
        for alpha, beta in pairs:
            swap_move(flat, movable, flat_unary, edges, weights,
                      label_values, alpha, beta)
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
    check_weights(w_down, w_right)
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
    graph = maxflow.Graph[float](blocks * levels)
    graph.add_nodes(blocks * levels)
    # More than every finite capacity together.
    infinite = float(chain.sum() + 2 * pairwise.max() *
                     (w_down.sum() + w_right.sum())) + 1
    graph.add_grid_tedges(node[..., 0].flatten().numpy(),
                          chain[..., 0].flatten().numpy(),
                          np.zeros(blocks))
    graph.add_grid_tedges(node[..., -1].flatten().numpy(),
                          np.zeros(blocks), chain[..., -1].flatten().numpy())
    if levels > 1:
        graph.add_edges(node[..., :-1].flatten().numpy(),
                        node[..., 1:].flatten().numpy(),
                        chain[..., 1:-1].flatten().numpy(),
                        np.full(blocks * (levels - 1), infinite))
    for src, dst, weight in ((node[:, :-1], node[:, 1:], w_down),
                             (node[:, :, :-1], node[:, :, 1:], w_right)):
        capacity = weight[..., None, None] * cross
        shape = capacity.shape
        graph.add_edges(
            src[..., :, None].expand(shape).flatten().numpy(),
            dst[..., None, :].expand(shape).flatten().numpy(),
            capacity.flatten().numpy(), np.zeros(capacity.numel()))
    graph.maxflow()
    on_source = ~torch.from_numpy(
        graph.get_grid_segments(node.flatten().numpy()))
    return on_source.view(num, gh, gw, levels).sum(dim=-1)
