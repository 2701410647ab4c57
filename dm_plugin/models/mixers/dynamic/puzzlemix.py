"""PuzzleMix: saliency-guided block labeling and block transport.

Kim, Choo, Song. "Puzzle Mix: Exploiting Saliency and Local Statistics for
Optimal Mixup", ICML 2020; the authors' code is snu-mllab/PuzzleMix
(``mixup.py``), which OpenMixup's ``puzzlemix`` reuses.

For a pair (own image ``a``, partner ``b``), the image is cut into a
``g x g`` grid of blocks and each block ``i`` gets a label ``l`` whose value
``m = 1 - l / (L-1)`` is the weight of the own image (``n_labels = L``;
label 0 shows the own image, as in the authors' gco call), minimising (all
terms as the authors' code scales them)::

    E(m) = sum_i [ m_i s_b,i + (1 - m_i) s_a,i ]             (saliency lost)
         + eta / g^2 sum_i -log Binom(m_i (L-1); L-1, lam)      (label prior)
         + beta' sum_{i~j} (m_i - m_j)^2                         (smoothness)
         + beta' gamma sum_{i~j} phi_ij(m_i, m_j)                (data-local)

with ``s`` the block saliency (gradient norm pooled over the block, summing
to 1 per image), ``beta' = beta / (16 g)`` and ``phi_ij(1|0, 1|0)`` the mean
absolute difference, across the boundary of adjacent blocks ``i`` (above or
left) and ``j``, of the neighbourhood-averaged pixels of the images the two
labels pick. ``phi`` is written as a unary part linear in ``m`` plus
``w_ij (m_i - m_j)^2`` (exact for labels in {0, 1}; the interpolation for
fractional labels is the authors').

The labeling is solved as the paper does, by alpha-beta swap graph cuts to
convergence (``solver='swap'``, on the CPU, batched; see
:mod:`.labeling`); ``'exact'`` finds the true minimum of the same energy
and ``'icm'`` a fast local minimum on the device. By default every solver
gets the energy rounded as the authors' code rounds it for gco,
``int(1000 g^2 x)`` of the unary costs and edge weights
(``round_energy``); the unary part of ``phi`` is then taken in absolute
terms, as their code splits it, since the rounding depends on it.

Each image's blocks are then moved (optimal transport, as in the paper) so
that salient blocks land where that image is visible: cost
``t_eps * |p_i - p_j|^2 / (G - 1)^2 - s_i [block j visible]`` for moving block
``i`` to place ``j``, minimised over permutations with the paper's
approximate row-argmin / column-resolve iterations; blocks left unassigned
after them are matched to the free places in index order, so the plan is
always a permutation (a tweak: the authors' code can leave holes). Blocks
move on a ``t_grid x t_grid`` grid where it refines the labeling grid (the
authors' 4-pixel ``t_size`` on 32-pixel CIFAR images), else on the labeling
grid (``t_grid=None``: always; the authors' ``t_size=-1``).
"""
import math
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from dm_plugin.registry import MIXERS
from dm_plugin.validation import check_choice, check_int, check_number
from ..base import BaseMixer
from ..static.masks import mix_with_mask
from .labeling import exact_labels, icm_labels, swap_labels
from .utils import input_saliency, pixel_scale, saliency_and_loss

SOLVERS = {'swap': swap_labels, 'exact': exact_labels, 'icm': icm_labels}


def block_means(maps: torch.Tensor, grid: Tuple[int, int]) -> torch.Tensor:
    """(N, gh, gw) means of (N, H, W) maps over a ``grid`` of equal blocks,
    normalised to sum to 1 per sample."""
    pooled = F.adaptive_avg_pool2d(maps[:, None], grid)[:, 0]
    return pooled / pooled.sum(dim=(1, 2), keepdim=True).clamp(min=1e-12)


def boundary_differences(pair: torch.Tensor, block: Tuple[int, int],
                         neigh: Tuple[int, int]):
    """Mean absolute differences across block boundaries.

    Args:
        pair (Tensor): (2, N, C, H, W): the partner (0) and own (1) images,
            in [0, 1] pixel units.
        block (tuple): (bh, bw) block size; the grid is (H/bh, W/bw).
        neigh (tuple): (nh, nw) averaging window, dividing the block size.

    Returns:
        tuple: ``down`` (2, 2, N, gh-1, gw) and ``right`` (2, 2, N, gh,
        gw-1): entry ``[a, b]`` compares the window-averaged strip of image
        ``a`` on the upper (left) side of a boundary with that of image ``b``
        on the lower (right) side, averaged along the boundary's block.
    """
    _, num, channels, height, width = pair.shape
    pooled = F.avg_pool2d(pair.flatten(0, 1), neigh)
    pooled = pooled.view(2, num, channels, *pooled.shape[-2:])
    kh, kw = block[0] // neigh[0], block[1] // neigh[1]
    gh, gw = height // block[0], width // block[1]
    up, low = pooled[..., kh - 1:-1:kh, :], pooled[..., kh::kh, :]
    down = (up[:, None] - low[None]).abs().mean(dim=3)
    down = down.view(2, 2, num, gh - 1, gw, kw).mean(dim=-1)
    left, rest = pooled[..., kw - 1:-1:kw], pooled[..., kw::kw]
    right = (left[:, None] - rest[None]).abs().mean(dim=3)
    right = right.view(2, 2, num, gh, kh, gw - 1).mean(dim=-2)
    return down, right


def split_pairwise(table: torch.Tensor):
    """Write ``phi(a, b) = table[a, b]`` (a, b in {0, 1}) as
    ``u_first(a) + u_second(b) + w [a != b] + const`` as the authors' code
    splits it: ``u_first(a)`` the mean of ``table[a, :]``, ``u_second(b)``
    that of ``table[:, b]``. Returns ``u_first`` and ``u_second``, each
    stacked over a = 0, 1, and ``w``."""
    weight = (table[1, 0] + table[0, 1] - table[0, 0] - table[1, 1]) / 2
    return table.mean(dim=1), table.mean(dim=0), weight


def rounded_energy(unary: torch.Tensor, w_down: torch.Tensor,
                   w_right: torch.Tensor) -> Tuple[torch.Tensor, ...]:
    """The labeling energy of a g x g grid rounded as the authors' code
    rounds it for gco: ``int(1000 g^2 x)`` (truncated) of the unary costs
    and edge weights, kept in their float dtype."""
    scale = 1000 * unary.size(1)**2
    return tuple((scale * t).trunc() for t in (unary, w_down, w_right))


def transport_plan(cost: torch.Tensor, iters: int) -> torch.Tensor:
    """(B, T) ``source``: place ``j`` receives block ``source[j]``; a
    permutation approximately minimising ``sum_i cost[i, source^-1(i)]``.

    Each round every block claims its cheapest place; a place keeps its
    cheapest claimant (the lowest index on ties) and every other claim gets
    +1 on its cost for the next rounds (the paper's algorithm). After
    ``iters`` rounds the last winners keep their places and the other blocks
    fill the free places in index order.
    """
    batch, num, _ = cost.shape
    cost = cost.clone()
    blocks = torch.arange(num, device=cost.device).expand(batch, num)
    for _ in range(iters):
        claim = cost.argmin(dim=-1)
        claim_cost = cost.gather(-1, claim[..., None])[..., 0]
        best = torch.full_like(claim_cost, math.inf).scatter_reduce(
            -1, claim, claim_cost, 'amin')
        contender = claim_cost == best.gather(-1, claim)
        first = torch.full_like(claim, num).scatter_reduce(
            -1, claim, torch.where(contender, blocks, num), 'amin')
        won = contender & (first.gather(-1, claim) == blocks)
        cost.scatter_add_(-1, claim[..., None],
                          (~won)[..., None].to(cost.dtype))
    # Losers write to private spare slots (num + i): no duplicate indices.
    spare = num + blocks
    source = torch.full((batch, 2 * num), -1, device=cost.device)
    source = source.scatter(-1, torch.where(won, claim, spare), blocks)
    source = source[:, :num]
    free_place, free_block = source < 0, ~won
    by_rank = torch.zeros((batch, 2 * num), dtype=torch.long,
                          device=cost.device)
    by_rank = by_rank.scatter(
        -1, torch.where(free_block, free_block.cumsum(-1) - 1, spare), blocks)
    place_rank = (free_place.cumsum(-1) - 1).clamp(min=0)
    return torch.where(free_place, by_rank.gather(-1, place_rank), source)


def move_blocks(images: torch.Tensor, source: torch.Tensor,
                block: Tuple[int, int]) -> torch.Tensor:
    """(N, C, H, W) images whose block at place ``j`` (row-major on the grid
    of ``block``-sized blocks) is the input's block ``source[:, j]``."""
    num, channels, height, width = images.shape
    (bh, bw), gh, gw = block, height // block[0], width // block[1]
    blocks = images.reshape(num, channels, gh, bh, gw, bw).permute(
        0, 2, 4, 1, 3, 5).reshape(num, gh * gw, channels, bh, bw)
    moved = blocks[torch.arange(num, device=images.device)[:, None], source]
    return moved.view(num, gh, gw, channels, bh, bw).permute(
        0, 3, 1, 4, 2, 5).reshape(num, channels, height, width)


def upsample_blocks(maps: torch.Tensor, block: Tuple[int, int]):
    """Repeat each cell of (N, 1, gh, gw) maps over a ``block``."""
    return maps.repeat_interleave(block[0], dim=-2).repeat_interleave(
        block[1], dim=-1)


@MIXERS.register_module()
class PuzzleMix(BaseMixer):
    """PuzzleMix (Kim et al., ICML 2020): each pair's mask over a grid of
    blocks trades off the saliency kept (input gradients of the loss, one
    extra forward/backward pass), a label prior pulling its mean towards
    ``lam ~ Beta(alpha, alpha)``, label smoothness and the smoothness of the
    mixed pixels across block boundaries; each image's blocks are then
    transported to where it shows. The scores weigh each sample by its
    mask's mean, so λ is the exact kept share (blocks only move within an
    image); a sample drawn as its own partner is left unchanged. See the
    module docstring for the energy.

    Defaults are the authors' CIFAR-100 settings (``--mixup_alpha 1.0
    --n_labels 3 --eta 0.2 --beta 1.2 --gamma 0.5 --neigh_size 4
    --transport True --t_size 4 --t_eps 0.8``, grid size drawn from
    {2, 4, 8, 16} each batch, labeling by alpha-beta swap); ``t_grid=8`` is
    ``t_size 4`` on 32-pixel images. OpenMixup's Tiny-ImageNet, ImageNet
    and fine-grained runs use ``block_nums=(2, 4, 8), t_grid=None``.
    Adversarial training of the authors' code is not included.

    The saliency pass runs in eval mode (BatchNorm statistics untouched),
    as in the authors' default; with ``clean_loss_weight > 0`` it runs in
    the model's mode instead and its loss on the clean batch is optimised
    as ``loss_clean`` (the authors' ``clean_lam``, see docs/fidelity.md for
    the conversion).

    Args:
        alpha (float): Beta concentration of λ (> 0). Defaults to 1.0.
        mode (str): ``'batch'`` | ``'elem'`` | ``'pair'`` λ sharing, see
            :class:`BaseMixer`. Defaults to ``'batch'``.
        block_nums (Sequence[int]): Grid sizes ``g`` (blocks per side, >= 2)
            to draw from uniformly each batch; those not dividing both H and
            W are skipped. Defaults to (2, 4, 8, 16).
        n_labels (int): Number of mask values, ``L >= 2``. Defaults to 3.
        beta (float): Label smoothness weight (>= 0). Defaults to 1.2.
        gamma (float): Data-local smoothness weight (>= 0). Defaults to 0.5.
        eta (float): Label prior weight (>= 0). Defaults to 0.2.
        neigh_size (int): Pixels averaged on each side of a boundary for the
            data-local term (its gcd with the block size is used).
            Defaults to 4.
        transport (bool): Transport blocks. Defaults to True.
        t_eps (float): Weight of the distance in the transport cost (>= 0).
            Defaults to 0.8.
        t_grid (int, optional): Transport grid cells per side (>= 1), used
            when it refines the labeling grid (a multiple of g dividing H
            and W); otherwise, and always when None, blocks move on the
            labeling grid. Defaults to 8.
        solver (str): Labeling solver: ``'swap'`` (alpha-beta swap graph
            cuts to convergence on the CPU, the paper's), ``'exact'`` (the
            minimum of the energy, one min cut on the CPU) or ``'icm'``
            (iterated conditional modes on the device: no host sync, but it
            stops in local minima, see docs/fidelity.md). Defaults to
            ``'swap'``.
        round_energy (bool): Solve the energy rounded as the authors' code
            rounds it for its gco call, ``int(1000 g^2 x)`` of the unary
            costs and edge weights (truncated), rather than the float
            energy; see docs/fidelity.md for how often that changes the
            labels. Defaults to True.
        icm_iters (int): Rounds of the ``'icm'`` solver (>= 1). Defaults
            to 4.
        clean_loss_weight (float): Weight (>= 0) of the classifier's CE on
            the clean batch, whose input gradients are the saliency; 0
            disables it (the saliency pass then runs in eval mode).
            Defaults to 0.

    Shapes:
        inputs (N, C, H, W), scores (N, K) -> (N, C, H, W), (N, K).
    """

    needs_model = True

    def __init__(self,
                 alpha: float = 1.0,
                 mode: str = 'batch',
                 block_nums: Sequence[int] = (2, 4, 8, 16),
                 n_labels: int = 3,
                 beta: float = 1.2,
                 gamma: float = 0.5,
                 eta: float = 0.2,
                 neigh_size: int = 4,
                 transport: bool = True,
                 t_eps: float = 0.8,
                 t_grid: Optional[int] = 8,
                 solver: str = 'swap',
                 round_energy: bool = True,
                 icm_iters: int = 4,
                 clean_loss_weight: float = 0.):
        super().__init__(alpha, mode)
        if not isinstance(block_nums, Sequence) or not block_nums:
            raise TypeError('block_nums must be a non-empty sequence of '
                            f'integers, got {block_nums!r}')
        for num in block_nums:
            check_int('block_nums entries', num, 2)
        check_int('n_labels', n_labels, 2)
        check_int('neigh_size', neigh_size, 1)
        if t_grid is not None:
            check_int('t_grid', t_grid, 1)
        check_choice('solver', solver, tuple(SOLVERS))
        check_int('icm_iters', icm_iters, 1)
        for name, value in (('beta', beta), ('gamma', gamma), ('eta', eta),
                            ('t_eps', t_eps),
                            ('clean_loss_weight', clean_loss_weight)):
            check_number(name, value, low=0., low_inclusive=True)
        for name, flag in (('transport', transport),
                           ('round_energy', round_energy)):
            if not isinstance(flag, bool):
                raise TypeError(f'{name} must be a bool, got {flag!r}')
        self.block_nums = tuple(block_nums)
        self.n_labels = n_labels
        self.beta, self.gamma, self.eta = float(beta), float(gamma), float(eta)
        self.neigh_size = neigh_size
        self.transport = transport
        self.t_eps = float(t_eps)
        self.t_grid = t_grid
        self.solver = solver
        self.round_energy = round_energy
        self.icm_iters = icm_iters
        self.clean_loss_weight = float(clean_loss_weight)
        self._losses = {}

    def draw_grid(self, height: int, width: int) -> int:
        """A grid size from ``block_nums`` dividing H and W, drawn with
        torch's CPU generator (seeded, no device sync)."""
        fits = [
            g for g in self.block_nums if height % g == 0 and width % g == 0
        ]
        if not fits:
            raise ValueError(f'none of block_nums {self.block_nums} divides '
                             f'both image sides {height} x {width}')
        return fits[int(torch.randint(len(fits), ()))]

    def transport_grid(self, grid: int, height: int, width: int) -> int:
        """Cells per side of the transport grid: ``t_grid`` where it refines
        the labeling grid ``g`` and divides H and W, else ``g``."""
        fine = self.t_grid
        if fine is not None and fine > grid and fine % grid == 0 \
                and height % fine == 0 and width % fine == 0:
            return fine
        return grid

    def label_values(self, device: torch.device) -> torch.Tensor:
        """(L,) own-image weight of each label: 1, ..., 0 (label 0 shows the
        own image, as the authors' gco labels do)."""
        return torch.linspace(1, 0, self.n_labels, device=device)

    def label_prior(self, lam: torch.Tensor, grid: int) -> torch.Tensor:
        """(N, L) ``-eta / g^2 log(P(label) + 1e-8)``: label ``l`` has
        ``L-1-l`` own units ~ Binomial(L-1, lam)."""
        count = self.n_labels - 1
        own = torch.arange(count, -1, -1, device=lam.device)
        ways = (math.lgamma(count + 1) - torch.lgamma(own + 1.) -
                torch.lgamma(count - own + 1.))
        lam = lam.float()[:, None]
        prob = ways.exp() * lam.pow(own) * (1 - lam).pow(count - own)
        return -self.eta / grid**2 * torch.log(prob + 1e-8)

    def mask_terms(self, inputs: torch.Tensor, saliency: torch.Tensor,
                   lam: torch.Tensor, index: torch.Tensor, grid: int,
                   scale) -> Tuple[torch.Tensor, ...]:
        """The labeling energy of :mod:`.labeling`: unary (N, g, g, L), edge
        weights (N, g-1, g) and (N, g, g-1), and the (L,) label values
        (own image's weight)."""
        _, _, height, width = inputs.shape
        block = (height // grid, width // grid)
        neigh = (math.gcd(self.neigh_size, block[0]),
                 math.gcd(self.neigh_size, block[1]))
        values = self.label_values(inputs.device)
        own_sal = block_means(saliency, (grid, grid))
        pixels = (inputs * scale).float()
        across_rows, across_cols = boundary_differences(
            torch.stack((pixels[index], pixels)), block, neigh)
        up, low, w_down = split_pairwise(across_rows)
        left, right, w_right = split_pairwise(across_cols)
        # (2, N, g, g): each block's data-local cost showing the partner (0)
        # or its own image (1).
        local = (F.pad(up, (0, 0, 0, 1)) + F.pad(low, (0, 0, 1, 0)) +
                 F.pad(left, (0, 1)) + F.pad(right, (1, 0)))
        smooth = self.beta / grid / 16
        shown = torch.stack((own_sal, own_sal[index])) + \
            smooth * self.gamma * local
        unary = (values * shown[1][..., None] +
                 (1 - values) * shown[0][..., None] +
                 self.label_prior(lam, grid)[:, None, None])
        return (unary, smooth * (1 + self.gamma * w_down),
                smooth * (1 + self.gamma * w_right), values)

    def solve_labels(self, unary: torch.Tensor, w_down: torch.Tensor,
                     w_right: torch.Tensor,
                     values: torch.Tensor) -> torch.Tensor:
        """(N, g, g) labels by ``solver`` of the energy, rounded as the
        authors' code rounds it unless ``round_energy`` is False: ICM on the
        device; the graph cuts on the CPU in float64 (the one host transfer
        of the mixer)."""
        if self.round_energy:
            unary, w_down, w_right = rounded_energy(unary, w_down, w_right)
        if self.solver == 'icm':
            return icm_labels(unary, w_down, w_right, values, self.icm_iters)
        terms = (t.detach().to('cpu', torch.float64)
                 for t in (unary, w_down, w_right, values))
        labels = SOLVERS[self.solver](*terms)
        return labels.to(unary.device, non_blocking=True)

    def transport_pair(self, inputs: torch.Tensor, saliency: torch.Tensor,
                       keep: torch.Tensor, index: torch.Tensor,
                       block: Tuple[int, int]):
        """Move each image's blocks to where it shows: the own images
        where ``keep > 0``, the partners where ``keep < 1``; ``keep`` is
        (N, 1, gh, gw) on the transport grid of ``block``-sized blocks."""
        gh, gw = keep.shape[-2:]
        sal = block_means(saliency, (gh, gw)).flatten(1)
        visible = torch.cat((keep > 0, keep < 1)).flatten(1).float()
        place = torch.arange(gh * gw, device=inputs.device)
        rows, cols = (place // gw).float(), (place % gw).float()
        distance = ((rows[:, None] - rows).square() +
                    (cols[:, None] - cols).square()) / max(
                        max(gh, gw) - 1, 1)**2
        cost = (self.t_eps * distance -
                torch.cat((sal, sal[index]))[:, :, None] * visible[:, None])
        source = transport_plan(cost, max(gh, gw))
        moved = move_blocks(torch.cat((inputs, inputs[index])), source, block)
        return moved.chunk(2)

    def saliency(self, model: nn.Module, inputs: torch.Tensor,
                 scores: torch.Tensor) -> torch.Tensor:
        """(N, H, W) input saliency; with ``clean_loss_weight`` its clean
        loss is kept for :meth:`pop_losses`."""
        if self.clean_loss_weight == 0:
            return input_saliency(model, inputs, scores)
        saliency, loss = saliency_and_loss(model, inputs, scores)
        self._losses = dict(loss_clean=self.clean_loss_weight * loss.mean())
        return saliency

    def pop_losses(self) -> dict:
        """The losses of the last :meth:`mix` (``loss_clean`` when
        ``clean_loss_weight > 0``), handed over once."""
        losses, self._losses = self._losses, {}
        return losses

    def mix(self, inputs: torch.Tensor, scores: torch.Tensor,
            model: nn.Module):
        num, channels, height, width = inputs.shape
        index = self.sample_index(num, inputs.device)
        lam = self.sample_lam(index)
        grid = self.draw_grid(height, width)
        block = (height // grid, width // grid)
        saliency = self.saliency(model, inputs, scores)
        unary, w_down, w_right, values = self.mask_terms(
            inputs, saliency, lam, index, grid, pixel_scale(model, channels))
        labels = self.solve_labels(unary, w_down, w_right, values)
        keep = values[labels][:, None]
        own, partner = inputs, inputs[index]
        if self.transport:
            fine = self.transport_grid(grid, height, width)
            own, partner = self.transport_pair(
                inputs, saliency,
                upsample_blocks(keep, (fine // grid, fine // grid)), index,
                (height // fine, width // fine))
        mixed, mixed_scores = mix_with_mask(
            own, scores, index, upsample_blocks(keep, block), pasted=partner)
        alone = (index == torch.arange(num, device=index.device)).view(
            -1, 1, 1, 1)
        return torch.where(alone, inputs, mixed), mixed_scores

    def extra_repr(self) -> str:
        return (f'{super().extra_repr()}, block_nums={self.block_nums}, '
                f'n_labels={self.n_labels}, beta={self.beta}, '
                f'gamma={self.gamma}, eta={self.eta}, '
                f'neigh_size={self.neigh_size}, transport={self.transport}, '
                f't_eps={self.t_eps}, t_grid={self.t_grid}, '
                f'solver={self.solver!r}, round_energy={self.round_energy}, '
                f'icm_iters={self.icm_iters}, '
                f'clean_loss_weight={self.clean_loss_weight}')
