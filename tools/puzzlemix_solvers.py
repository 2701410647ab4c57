"""How well and how fast PuzzleMix's labeling solvers solve its energy.

    python tools/puzzlemix_solvers.py quality [--instances 200]
        [--grids 8 16] [--images DIR] [--saliency model|noise]
        [--gco-path DIR [--authors-code FILE]] [--seed 0] [--out FILE.md]
    python tools/puzzlemix_solvers.py time [--batch-size 100]
        [--grids 2 4 8 16] [--repeats 20] [--processes 8] [--device cpu]
        [--images DIR] [--saliency model|noise] [--gco-path DIR]
        [--out FILE.md]

Instances are PuzzleMix's own labeling energies (3 labels, the defaults of
``PuzzleMix``) on 32x32 images: the saliency is the input gradient of a
randomly initialised ResNet_CIFAR-18 or, with ``--saliency noise``, the
channel RMS of i.i.d. Gaussian "gradients" (rough, nearly flat once pooled
over a block); images are smooth random ones or, with ``--images``, images
of a folder (e.g. CIFAR-10); partners a rolled batch, λ ~ U(0, 1) per pair.

``quality`` solves each instance as the mixer does (the energy rounded as
the authors' code rounds it, ``round_energy=True``) with ``swap``
(alpha-beta swap, the paper's solver), ``icm`` and ``exact`` (the minimum)
and counts, per grid size: the share of grids at the exact minimum and at
the swap result (the reference), the blocks labelled differently and the
difference of mask means (λ). A note per grid size counts the grids whose
labels change when the float energy is solved instead
(``round_energy=False``). With ``--gco-path`` (a folder where ``pip
install --target DIR gco-wrapper`` put the ``gco`` module the authors' code
calls) it also runs gco's swap as the authors' code calls it,
``gco.cut_grid_graph(..., algorithm='swap')``, on the same integer energy,
and counts the grids where ``swap_labels`` gives other labels. With
``--authors-code`` (the ``mixup.py`` of a snu-mllab/PuzzleMix checkout) it
runs the authors' ``mixup_graph`` itself on the same images and saliency (5
batches per grid size, one λ each, as their code draws it, no transport)
and counts the grids where the mixer's labels differ from theirs.

``time`` measures the labeling cost of a batch (``--batch-size`` pairs) per
grid size: ``swap`` and ``exact`` as the mixer runs them (device -> CPU
float64, batched graph, labels back), ``icm`` on ``--device``; with
``--gco-path``, the authors' per-sample solve: for each pair, building the
integer energy with numpy and calling gco, in a loop (their default without
``--mp``) and in a ``multiprocessing.Pool(--processes)`` (their ``--mp``).
The medians of ``--repeats`` runs after one warm-up; the last column
averages the grid sizes, as the mixer draws them uniformly.
"""
import argparse
import importlib.util
import math
import os.path as osp
import statistics
import sys
import time
from multiprocessing import Pool

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
import dm_plugin  # noqa: E402,F401  (registers mixers, models)
from dm_plugin.models.mixers.dynamic import PuzzleMix  # noqa: E402
from dm_plugin.models.mixers.dynamic.labeling import grid_energy  # noqa
from dm_plugin.models.mixers.dynamic.puzzlemix import rounded_energy  # noqa
from dm_plugin.models.mixers.dynamic.utils import input_saliency  # noqa

SIZE = 32
SOLVERS = ('swap', 'icm', 'exact')


def load_images(folder, num: int) -> torch.Tensor:
    """(num, 3, 32, 32) images in 0-255: smooth random ones, or ``num``
    images of ``folder`` (one per class folder in turn), resized."""
    if folder is None:
        generator = torch.Generator().manual_seed(0)
        coarse = torch.rand(num, 3, 8, 8, generator=generator) * 255
        return F.interpolate(coarse, size=SIZE, mode='bicubic').clamp(0, 255)
    sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
    from visualize_mixers import folder_images
    images = torch.from_numpy(folder_images(folder, num)).permute(0, 3, 1, 2)
    return F.interpolate(images.float().expand(-1, 3, -1, -1), size=SIZE,
                         mode='bilinear', antialias=True)


def classifier():
    """A randomly initialised ResNet_CIFAR-18 normalising 0-255 inputs."""
    from mmpretrain.registry import MODELS
    return MODELS.build(
        dict(
            type='MixupClassifier',
            data_preprocessor=dict(
                type='ClsDataPreprocessor', num_classes=10,
                mean=[125.307, 122.961, 113.8575],
                std=[51.5865, 50.847, 51.255]),
            backbone=dict(type='ResNet_CIFAR', depth=18),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='LinearClsHead', num_classes=10, in_channels=512)))


def saliency_batch(images: torch.Tensor, seed: int, device='cpu',
                   saliency='model'):
    """The mixer's inputs for the pairs (image n, image n+1): the normalised
    images, their (N, H, W) saliency, the partner index and the pixel
    scale. ``saliency``: ``'model'`` (input gradients of a random ResNet)
    or ``'noise'`` (the channel RMS of i.i.d. Gaussian "gradients")."""
    torch.manual_seed(seed)
    model = classifier().to(device)
    num = images.size(0)
    inputs = model.data_preprocessor(
        dict(inputs=images.to(device)), False)['inputs']
    scores = torch.eye(10, device=device)[torch.randint(10, (num, ))]
    if saliency == 'model':
        saliency = input_saliency(model, inputs, scores)
    else:
        saliency = torch.randn_like(inputs).square().mean(1).sqrt()
    index = torch.roll(torch.arange(num, device=device), -1)
    scale = model.data_preprocessor.std.view(1, -1, 1, 1) / 255
    return inputs, saliency.detach(), index, scale


def energies(images: torch.Tensor, grid: int, seed: int, device='cpu',
             saliency='model'):
    """PuzzleMix's labeling terms (unary, w_down, w_right, values) of the
    pairs of :func:`saliency_batch`, and their (N,) λ ~ U(0, 1)."""
    inputs, saliency, index, scale = saliency_batch(images, seed, device,
                                                    saliency)
    lam = torch.rand(len(inputs), device=device)
    terms = PuzzleMix().mask_terms(inputs, saliency, lam, index, grid, scale)
    return [t.detach() for t in terms], lam


def solve(name: str, terms, round_energy=True):
    """(N, g, g) labels of ``name``, as the mixer solves them."""
    mixer = PuzzleMix(solver=name, round_energy=round_energy)
    return mixer.solve_labels(*terms).cpu()


def integer_energy(terms):
    """The rounded energy the mixer solves by default, as float64 CPU
    tensors."""
    return [t.cpu().double() for t in rounded_energy(*terms[:3])] + [
        terms[3].cpu().double()
    ]


def gco_labels(gco, unary, w_down, w_right, values) -> torch.Tensor:
    """gco's swap on each grid, called as the authors' code calls it:
    int32 unary and edge weights, the float32 label-distance matrix."""
    distance = (values[:, None] - values[None]).square().numpy().astype(
        np.float32)
    return torch.stack([
        torch.from_numpy(
            gco.cut_grid_graph(
                unary[n].numpy().astype(np.int32), distance,
                w_down[n].numpy().astype(np.int32),
                w_right[n].numpy().astype(np.int32),
                algorithm='swap').reshape(unary.shape[1:3]).astype(np.int64))
        for n in range(len(unary))
    ])


def gco_overflows(unary) -> torch.Tensor:
    """(N,) grids whose integer unary costs overflow gco's int32 once
    pygco scales them by 100000 (their labels are then garbage)."""
    return (unary * 100000 > 2**31 - 1).flatten(1).any(1)


def percent(part, whole) -> str:
    return f'{100 * part / whole:.1f} %'


def solver_row(grid, name, labels, energy, values) -> str:
    """A table row: how ``name``'s labels compare with exact and swap."""
    best, reference = energy['exact'], energy['swap']
    tol = 1e-9 * best.abs() + 1e-12
    gap = ((energy[name] - best) / best.abs()).mean()

    def unlike(other):
        share = (labels[name] != labels[other]).flatten(1).float().mean(1)
        return f'{100 * share.mean():.1f} % / {100 * share.max():.0f} %'

    lam_gap = (values[labels[name]].flatten(1).mean(1) -
               values[labels['exact']].flatten(1).mean(1)).abs()
    at_best = percent(int((energy[name] <= best + tol).sum()), len(best))
    at_swap = percent(int((energy[name] <= reference + tol).sum()),
                      len(best))
    return (f'| {grid}x{grid} | {name} | {at_best} | {at_swap} | '
            f'{gap:.2e} | {unlike("exact")} | {unlike("swap")} | '
            f'{lam_gap.mean():.3f} / {lam_gap.max():.3f} |')


def gco_note(gco, integer, grid, swap) -> str:
    """How the authors' gco call compares with ``swap_labels`` on the same
    integer energy."""
    theirs = gco_labels(gco, *integer)
    overflow = gco_overflows(integer[0])
    differ = (swap != theirs).flatten(1).any(1)
    return (f'- {grid}x{grid}: swap_labels and gco on the authors\' integer '
            f'energy give other labels on {int((differ & ~overflow).sum())} '
            f'of {int((~overflow).sum())} grids ({int(overflow.sum())} more '
            'overflow gco\'s int32).')


def rounding_note(grid, terms, labels) -> str:
    """How often solving the float energy changes the labels."""
    counts = []
    for name in ('swap', 'exact'):
        other = solve(name, terms, round_energy=False)
        differ = (other != labels[name]).flatten(1).any(1)
        counts.append(f'{name} {int(differ.sum())}')
    return (f'- {grid}x{grid}: the float energy (round_energy=False) gives '
            f'other labels than the rounded one on {", ".join(counts)} of '
            f'{len(labels["swap"])} grids.')


def authors_module(path: str):
    """The authors' ``mixup.py`` as a module whose ``gco`` calls are
    recorded: ``module.gco_calls`` gets each call's int32 unary costs and
    the labels gco returns."""
    spec = importlib.util.spec_from_file_location('authors_mixup', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.gco_calls = []
    cut = module.gco.cut_grid_graph

    def recording_cut(unary, *args, **kwargs):
        labels = cut(unary, *args, **kwargs)
        module.gco_calls.append((unary, labels))
        return labels

    module.gco = type('RecordingGco', (),
                      dict(cut_grid_graph=staticmethod(recording_cut)))
    return module


def authors_note(authors, images, grid, args) -> str:
    """The mixer's labels against those of the authors' ``mixup_graph``
    (their code, with the mixer's settings, no transport) on the same
    images and saliency: five batches, one λ each, as their code draws
    it."""
    inputs, saliency, index, scale = saliency_batch(images, args.seed,
                                                    saliency=args.saliency)
    mixer = PuzzleMix()
    differ = overflow = total = 0
    for lam in (0.1, 0.3, 0.5, 0.7, 0.9):
        authors.gco_calls.clear()
        # Their pixels are input * std + mean: only differences matter.
        authors.mixup_graph(
            inputs.clone(), saliency.clone(), index, block_num=grid,
            alpha=lam, beta=mixer.beta, gamma=mixer.gamma, eta=mixer.eta,
            neigh_size=mixer.neigh_size, n_labels=mixer.n_labels,
            mean=torch.zeros_like(scale), std=scale, transport=False,
            device='cpu')
        unary = torch.from_numpy(
            np.stack([u for u, _ in authors.gco_calls]).astype(np.int64))
        theirs = torch.from_numpy(
            np.stack([labels for _, labels in authors.gco_calls]).astype(
                np.int64)).view(-1, grid, grid)
        terms = mixer.mask_terms(inputs, saliency,
                                 torch.full((len(inputs), ), lam), index,
                                 grid, scale)
        ours = mixer.solve_labels(*terms).cpu()
        wrapped = gco_overflows(unary)
        differ += int(((ours != theirs).flatten(1).any(1) & ~wrapped).sum())
        overflow += int(wrapped.sum())
        total += len(ours)
    return (f'- {grid}x{grid}: the authors\' mixup_graph and the mixer give '
            f'other labels on {differ} of {total - overflow} grids '
            f'({overflow} more overflow gco\'s int32).')


def quality(args, gco) -> str:
    images = load_images(args.images, args.instances)
    source = ('saliency: channel RMS of Gaussian noise; images: '
              if args.saliency == 'noise' else
              'saliency: input gradients of a random ResNet_CIFAR-18 on ')
    source += args.images or 'smooth random images'
    lines = [
        f'{args.instances} grids per size, 3 labels, PuzzleMix defaults '
        f'(the energy rounded as the authors\' code rounds it); {source}; '
        'λ ~ U(0, 1).', '',
        '| grid | solver | at the exact minimum | at the swap result | '
        'mean (E - E*) / abs(E*) | blocks unlike exact: mean / max | '
        'blocks unlike swap: mean / max | abs mask-mean diff to exact: '
        'mean / max |', '|---|---|---:|---:|---:|---:|---:|---:|'
    ]
    notes = []
    authors = authors_module(args.authors_code) if args.authors_code \
        else None
    for grid in args.grids:
        terms = energies(images, grid, args.seed, saliency=args.saliency)[0]
        integer = integer_energy(terms)
        labels = {name: solve(name, terms) for name in SOLVERS}
        energy = {
            name: grid_energy(value, *integer)
            for name, value in labels.items()
        }
        lines += [
            solver_row(grid, name, labels, energy, integer[3])
            for name in SOLVERS
        ]
        notes.append(rounding_note(grid, terms, labels))
        if gco is not None:
            notes.append(gco_note(gco, integer, grid, labels['swap']))
        if authors is not None:
            notes.append(authors_note(authors, images, grid, args))
    return '\n'.join(lines + [''] + notes) + '\n'


def authors_energy(unary_own, unary_partner, pw_down, pw_right, lam, grid,
                   n_labels=3, beta=1.2, eta=0.2):
    """One pair's integer energy built as the authors' per-sample function
    builds it (a stand-in written for this timing, not their code: the same
    numpy work): label i mixes the two (g, g) unary parts with weights
    (1 - i/(L-1), i/(L-1)) and adds the binomial prior; costs and edge
    weights (data part + beta') are scaled by 1000 g^2 to int32. Returns
    the arguments of ``gco.cut_grid_graph``."""
    large = 1000 * grid**2
    own = np.arange(n_labels - 1, -1, -1)
    ways = np.array([math.comb(n_labels - 1, k) for k in own])
    prior = -np.log(ways * lam**own * (1 - lam)**(n_labels - 1 - own) +
                    1e-8) * eta / grid**2
    costs = (large * np.stack([
        (1 - t) * unary_own + t * unary_partner + prior[i]
        for i, t in enumerate(np.linspace(0, 1, n_labels))
    ], axis=-1)).astype(np.int32)
    steps = np.arange(n_labels)
    distance = ((steps[:, None] - steps[None]) / (n_labels - 1))**2
    smooth = beta / grid / 16
    return (costs, distance.astype(np.float32),
            (large * (pw_down + smooth)).astype(np.int32),
            (large * (pw_right + smooth)).astype(np.int32))


def authors_solve(*pair):
    """One pair solved as the authors' code solves it: its integer energy
    (:func:`authors_energy`), then gco's swap."""
    import gco
    grid = pair[5]
    labels = gco.cut_grid_graph(*authors_energy(*pair), algorithm='swap')
    return labels.reshape(grid, grid)


def authors_calls(terms, lam, grid):
    """Per pair, the float inputs of :func:`authors_solve`: the unary parts
    of labels 0 (own image) and L-1 (partner) without their prior, and the
    data parts of the edge weights."""
    prior = PuzzleMix().label_prior(lam, grid)[:, None, None]
    unary = (terms[0] - prior).detach().cpu().numpy()
    smooth = 1.2 / grid / 16
    w_down, w_right = ((w - smooth).detach().cpu().numpy()
                       for w in terms[1:3])
    lam = lam.cpu().numpy()
    return [(unary[n, ..., 0], unary[n, ..., -1], w_down[n], w_right[n],
             float(lam[n]), grid) for n in range(len(unary))]


def median_time(function, repeats: int, device: str) -> float:
    times = []
    for round_ in range(repeats + 1):
        if device.startswith('cuda'):
            torch.cuda.synchronize()
        start = time.perf_counter()
        function()
        if device.startswith('cuda'):
            torch.cuda.synchronize()
        if round_:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def timing(args, gco) -> str:
    images = load_images(args.images, args.batch_size)
    rows = {name: [] for name in SOLVERS}
    if gco is not None:
        rows['authors: gco per sample'] = []
        rows[f'authors: gco, Pool({args.processes})'] = []
        pool = Pool(args.processes)
    for grid in args.grids:
        terms, lam = energies(images, grid, args.seed, args.device,
                              args.saliency)
        for name in SOLVERS:
            rows[name].append(
                median_time(lambda: solve(name, terms), args.repeats,
                            args.device))
        if gco is None:
            continue
        calls = authors_calls(terms, lam, grid)
        rows['authors: gco per sample'].append(
            median_time(lambda: [authors_solve(*c) for c in calls],
                        args.repeats, 'cpu'))
        rows[f'authors: gco, Pool({args.processes})'].append(
            median_time(lambda: pool.starmap(authors_solve, calls),
                        args.repeats, 'cpu'))
    if gco is not None:
        pool.close()
    device = (torch.cuda.get_device_name(args.device)
              if args.device.startswith('cuda') else
              f'CPU, {torch.get_num_threads()} threads')
    grids = ' | '.join(f'g = {g} (ms)' for g in args.grids)
    lines = [
        f'Labeling of a batch of {args.batch_size} pairs, 3 labels; '
        f'{device} (icm; the graph cuts run on the CPU), torch '
        f'{torch.__version__}; median of {args.repeats} runs.', '',
        f'| solver | {grids} | mean over g (ms) |',
        '|---|' + '---:|' * (len(args.grids) + 1)
    ]
    for name, values in rows.items():
        cells = ' | '.join(f'{1e3 * v:.1f}' for v in values)
        lines.append(f'| {name} | {cells} | '
                     f'{1e3 * statistics.mean(values):.1f} |')
    return '\n'.join(lines) + '\n'


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('what', choices=('quality', 'time'))
    parser.add_argument('--instances', type=int, default=200)
    parser.add_argument('--batch-size', type=int, default=100)
    parser.add_argument('--grids', type=int, nargs='+')
    parser.add_argument('--repeats', type=int, default=20)
    parser.add_argument('--processes', type=int, default=8)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--images', help='image folder (default: random)')
    parser.add_argument('--saliency', choices=('model', 'noise'),
                        default='model')
    parser.add_argument('--gco-path', help='folder holding the gco module')
    parser.add_argument('--authors-code',
                        help="the authors' mixup.py (needs --gco-path)")
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', help='also write the table to this file')
    args = parser.parse_args(argv)
    if args.grids is None:
        args.grids = [8, 16] if args.what == 'quality' else [2, 4, 8, 16]
    if any(SIZE % g or g < 2 for g in args.grids):
        parser.error(f'grid sizes must be >= 2 and divide {SIZE}')
    if min(args.instances, args.batch_size, args.repeats) < 1:
        parser.error('need --instances, --batch-size, --repeats >= 1')
    if args.authors_code and not args.gco_path:
        parser.error('--authors-code needs --gco-path (their code imports '
                     'gco)')
    gco = None
    if args.gco_path:
        sys.path.insert(0, args.gco_path)
        import gco
    report = (quality if args.what == 'quality' else timing)(args, gco)
    print(report)
    if args.out:
        with open(args.out, 'w') as file:
            file.write(report)


if __name__ == '__main__':
    main()
