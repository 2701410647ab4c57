"""The static mixers against references written from the published
algorithms (OpenMixup at commit 37e1372, which produced the DM paper's
numbers): λ statistics over many draws, and masks pixel by pixel.

λ is a sample's own label weight. ``python
tests/models/mixers/test_static_fidelity.py`` prints the statistics over 10k
draws at 32x32 (docs/fidelity.md).
"""
import math

import numpy as np
import pytest
import torch
from scipy import stats

from dm_plugin.models.mixers.static import (CutMix, FMix, GridMix, Mixup,
                                            ResizeMix, SmoothMix)
from dm_plugin.models.mixers.static.gridmix import grid_mask

SIZE = 32


# References: one draw at a time, numpy, as OpenMixup's augments compute.


def cutmix_reference(rng, alpha, size=SIZE):
    """λ of CutMix: a box of sides int(size * sqrt(1 - lam)), centred on a
    random pixel, slices clipped at the border."""
    lam = rng.beta(alpha, alpha)
    cut = int(size * math.sqrt(1 - lam))
    center_x, center_y = rng.integers(size), rng.integers(size)
    x1, x2 = np.clip([center_x - cut // 2, center_x + cut // 2], 0, size)
    y1, y2 = np.clip([center_y - cut // 2, center_y + cut // 2], 0, size)
    return 1 - (x2 - x1) * (y2 - y1) / size**2


def resizemix_reference(rng, alpha, scope=(0.1, 0.8), use_alpha=True,
                        size=SIZE):
    """λ of ResizeMix: tau from Beta(alpha, alpha), redrawn from U(scope)
    outside it (use_alpha), else U(scope); the box as CutMix's."""
    if use_alpha:
        tau = rng.beta(alpha, alpha)
        if tau < scope[0] or tau > scope[1]:
            tau = rng.uniform(*scope)
    else:
        tau = rng.uniform(*scope)
    cut = int(size * tau)
    center_x, center_y = rng.integers(size), rng.integers(size)
    x1, x2 = np.clip([center_x - cut // 2, center_x + cut // 2], 0, size)
    y1, y2 = np.clip([center_y - cut // 2, center_y + cut // 2], 0, size)
    return 1 - (x2 - x1) * (y2 - y1) / size**2


def gridmix_reference_mask(lam, cells, hole_aspect, area, aspect, place_y,
                           place_x, size=SIZE, wrap=False):
    """GridMixup's mask (1 where the partner shows), hole by hole. ``wrap``:
    index with Python slices as OpenMixup does, so a region overhanging the
    top or left border puts holes at the opposite border; else clip."""
    mask = np.zeros((size, size))
    cut_w = int(math.sqrt(int(size * size * area) / aspect))
    cut_h = int(cut_w * aspect)
    left = int((size - cut_w) * place_x)
    top = int((size - cut_h) * place_y)
    cell_w = math.ceil(cut_w / cells)
    cell_h = int(cell_w * hole_aspect)
    ratio = math.sqrt(1 - lam)
    hole_w = min(max(int(cell_w * ratio), 1), cell_w - 1)
    hole_h = min(max(int(cell_h * ratio), 1), cell_h - 1)
    for i in range(cells + 1):
        for j in range(math.ceil(cut_h / cell_h) + 1):
            x1, y1 = min(cell_w * i, cut_w), min(cell_h * j, cut_h)
            x2, y2 = min(x1 + hole_w, cut_w), min(y1 + hole_h, cut_h)
            rows = [top + y1, top + y2]
            cols = [left + x1, left + x2]
            if not wrap:
                rows, cols = np.clip(rows, 0, None), np.clip(cols, 0, None)
            mask[rows[0]:rows[1], cols[0]:cols[1]] = 1
    return mask


def gridmix_draw(rng, alpha):
    """One draw of GridMix's parameters with OpenMixup's CIFAR settings."""
    return dict(lam=rng.beta(alpha, alpha), cells=int(rng.integers(2, 7)),
                hole_aspect=1., area=rng.uniform(0.5, 1.),
                aspect=rng.uniform(0.5, 2.), place_y=rng.random(),
                place_x=rng.random())


def gridmix_reference(rng, alpha, wrap=False):
    return 1 - gridmix_reference_mask(**gridmix_draw(rng, alpha),
                                      wrap=wrap).mean()


def smoothmix_reference(rng, size=SIZE):
    """(own label weight as OpenMixup gives it, λ of the pixels): the
    Gaussian kernel built on a 2·size grid, rolled by a random shift and
    cropped to the image; the partner shows with weight ``kernel``."""
    grid = 2 * size
    shift_y = int(rng.integers(size) - size / 2)
    shift_x = int(rng.integers(size) - size / 2)
    sigma = (rng.random() / 4 + 0.25) * size
    ys, xs = np.meshgrid(np.arange(grid), np.arange(grid), indexing='ij')
    ys = np.roll(ys, shift_y, axis=0)[size // 2:grid - size // 2,
                                      size // 2:grid - size // 2]
    xs = np.roll(xs, shift_x, axis=1)[size // 2:grid - size // 2,
                                      size // 2:grid - size // 2]
    center = (grid - 1) / 2
    kernel = np.exp(-((ys - center)**2 + (xs - center)**2) / (2 * sigma**2))
    return kernel.mean(), 1 - kernel.mean()


def reference_lams(draw, num, seed=0):
    rng = np.random.default_rng(seed)
    return np.array([draw(rng) for _ in range(num)])


def mixer_lams(mixer, num, seed=0, batch=1000, size=SIZE):
    """Own label weights of ``num`` samples mixed per sample (``'elem'``),
    read off eye scores. A sample drawn as its own partner (1 in ``batch``)
    reads 1."""
    torch.manual_seed(seed)
    lams = []
    for _ in range(num // batch):
        _, scores = mixer(torch.zeros(batch, 1, size, size), torch.eye(batch))
        lams.append(scores.diagonal())
    return torch.cat(lams).double().numpy()


def summary(lams):
    return dict(mean=lams.mean(), std=lams.std(),
                near_1=(lams > 0.95).mean(), near_0=(lams < 0.05).mean())


def assert_same_distribution(ours, reference):
    """Means within 4 standard errors, stds within 0.015, and a two-sample
    Kolmogorov-Smirnov test that does not reject at 1e-3."""
    error = math.sqrt(ours.var() / len(ours) + reference.var() /
                      len(reference))
    assert abs(ours.mean() - reference.mean()) < 4 * error, (
        summary(ours), summary(reference))
    assert abs(ours.std() - reference.std()) < 0.015
    assert stats.ks_2samp(ours, reference).pvalue > 1e-3


@pytest.mark.parametrize('alpha', [0.2, 2.])
def test_mixup_lambda_is_beta(alpha):
    ours = mixer_lams(Mixup(alpha=alpha, mode='elem'), 3000)
    assert stats.kstest(ours, stats.beta(alpha, alpha).cdf).pvalue > 1e-3


@pytest.mark.parametrize('alpha', [0.2, 2.])
def test_fmix_lambda_is_beta_at_pixel_resolution(alpha):
    """The top ``round(lam * H * W)`` pixels keep the sample: λ is
    Beta(alpha, alpha) rounded to 1/(H*W) (OpenMixup keeps ceil or floor at
    random and labels with the unrounded λ: at most 1/(H*W) apart)."""
    ours = mixer_lams(FMix(alpha=alpha, mode='elem'), 3000)
    reference = reference_lams(
        lambda rng: round(rng.beta(alpha, alpha) * SIZE**2) / SIZE**2, 3000)
    assert_same_distribution(ours, reference)


# name: (mixer, reference draw, number of draws)
DISTRIBUTIONS = {
    'CutMix alpha 0.2': (CutMix(alpha=0.2, mode='elem'),
                         lambda rng: cutmix_reference(rng, 0.2), 4000),
    'CutMix alpha 1': (CutMix(alpha=1., mode='elem'),
                       lambda rng: cutmix_reference(rng, 1.), 4000),
    'ResizeMix alpha 0.2': (ResizeMix(alpha=0.2, mode='elem'),
                            lambda rng: resizemix_reference(rng, 0.2), 4000),
    'ResizeMix alpha 4': (ResizeMix(alpha=4., mode='elem'),
                          lambda rng: resizemix_reference(rng, 4.), 4000),
    'ResizeMix uniform': (ResizeMix(mode='elem', use_alpha=False),
                          lambda rng: resizemix_reference(
                              rng, 1., use_alpha=False), 4000),
    'GridMix alpha 0.2': (GridMix(alpha=0.2, mode='elem'),
                          lambda rng: gridmix_reference(rng, 0.2), 2000),
    'GridMix alpha 1': (GridMix(alpha=1., mode='elem'),
                        lambda rng: gridmix_reference(rng, 1.), 2000),
}


@pytest.mark.parametrize('name', sorted(DISTRIBUTIONS))
def test_lambda_distribution_matches_the_reference(name):
    mixer, draw, num = DISTRIBUTIONS[name]
    assert_same_distribution(mixer_lams(mixer, num),
                             reference_lams(draw, num))


def test_smoothmix_lambda_distribution_and_label_inversion():
    """The pixels' λ matches OpenMixup's kernel, whatever alpha (OpenMixup
    ignores it); OpenMixup's own label weight is 1 - λ, a different
    distribution (mean about 0.43, not 0.57)."""
    ours = mixer_lams(SmoothMix(alpha=0.2, mode='elem'), 4000)
    pairs = reference_lams(smoothmix_reference, 4000)
    openmixup_label, pixels = pairs[:, 0], pairs[:, 1]
    assert_same_distribution(ours, pixels)
    assert openmixup_label.mean() < 0.45 < 0.55 < ours.mean()


def test_grid_mask_matches_the_reference_pixel_by_pixel():
    """Grids drawn at random, including regions that overhang the border
    (clipped) and tiny cells (no holes)."""
    rng = np.random.default_rng(1)
    draws = [gridmix_draw(rng, 1.) for _ in range(300)]
    draws += [dict(draws[0], cells=31), dict(draws[1], area=0.02),
              dict(draws[2], hole_aspect=0.3)]

    def column(key):
        return torch.tensor([d[key] for d in draws], dtype=torch.float32)

    masks = grid_mask(SIZE, SIZE, (1 - column('lam')).sqrt(),
                      column('cells'), column('hole_aspect'), column('area'),
                      column('aspect'), column('place_y'), column('place_x'))
    for mask, draw in zip(masks, draws):
        # float32 parameters, as the mixer draws them
        draw = {k: float(np.float32(v)) for k, v in draw.items()}
        draw['cells'] = int(draw['cells'])
        expected = gridmix_reference_mask(**draw)
        np.testing.assert_array_equal(mask.numpy(), expected.astype(bool))


def test_cutmix_box_has_even_sides_unless_clipped():
    torch.manual_seed(2)
    mixer = CutMix(alpha=1., mode='elem')
    inputs = torch.zeros(64, 1, SIZE, SIZE)
    inputs[:32] = 1.
    mixed, _ = mixer(inputs, torch.eye(64))
    for image, source in zip(mixed, inputs):
        pasted = (image != source)[0]
        if not pasted.any():
            continue
        rows = pasted.any(1).nonzero().flatten()
        cols = pasted.any(0).nonzero().flatten()
        for span in (rows, cols):
            clipped = span[0] == 0 or span[-1] == SIZE - 1
            assert clipped or len(span) % 2 == 0


def print_statistics(num=10000):
    """λ statistics of each changed mixer and its reference."""
    rows = [
        ('CutMix α 0.2', mixer_lams(CutMix(alpha=0.2, mode='elem'), num),
         reference_lams(lambda rng: cutmix_reference(rng, 0.2), num)),
        ('ResizeMix α 1', mixer_lams(ResizeMix(mode='elem'), num),
         reference_lams(lambda rng: resizemix_reference(rng, 1.), num)),
        ('ResizeMix α 0.2', mixer_lams(ResizeMix(alpha=0.2, mode='elem'),
                                       num),
         reference_lams(lambda rng: resizemix_reference(rng, 0.2), num)),
        ('GridMix α 0.2', mixer_lams(GridMix(alpha=0.2, mode='elem'), num),
         reference_lams(lambda rng: gridmix_reference(rng, 0.2), num)),
        ('GridMix α 0.2, OpenMixup wrap-around', None,
         reference_lams(lambda rng: gridmix_reference(rng, 0.2, wrap=True),
                        num)),
        ('SmoothMix', mixer_lams(SmoothMix(mode='elem'), num),
         reference_lams(smoothmix_reference, num)[:, 1]),
        ('SmoothMix, OpenMixup label', None,
         reference_lams(smoothmix_reference, num)[:, 0]),
    ]
    print(f'{num} draws, {SIZE}x{SIZE}, λ = own label weight: mean / std / '
          'fraction > 0.95 / fraction < 0.05')
    for name, ours, reference in rows:
        cells = [name]
        for lams in (ours, reference):
            cells.append('-' if lams is None else
                         '{mean:.3f} / {std:.3f} / {near_1:.3f} / '
                         '{near_0:.3f}'.format(**summary(lams)))
        print('| ' + ' | '.join(cells) + ' |')


if __name__ == '__main__':
    print_statistics()
