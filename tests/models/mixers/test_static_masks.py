"""The masks of the cut/mask mixers, against their definitions.

``keep_mask`` reads a mixer's mask off a two-image batch, a white image and
a black one that swap content (``mode='pair'``): the white image's mixed
version is its keep mask, and its mixed score its λ.
"""
import numpy as np
import pytest
import torch
from scipy import ndimage

from dm_plugin.models.mixers.static import (CutMix, FMix, GridMix,
                                            SaliencyMix, SmoothMix, box_mask)
from dm_plugin.models.mixers.static.fmix import (low_frequency_images,
                                                 top_fraction_mask)
from dm_plugin.models.mixers.static.saliencymix import \
    spectral_residual_saliency


def keep_mask(mixer, height, width, channels=1):
    """(H, W) keep mask and λ of the first sample, read off a white and a
    black image."""
    inputs = torch.stack([
        torch.ones(channels, height, width, dtype=torch.float64),
        torch.zeros(channels, height, width, dtype=torch.float64)
    ])
    mixed, scores = mixer(inputs, torch.eye(2, dtype=torch.float64))
    assert torch.equal(mixed[0], mixed[0, :1].expand_as(mixed[0]))
    return mixed[0, 0], scores[0, 0].item()


def is_rectangle(mask):
    rows, cols = mask.any(1), mask.any(0)
    return torch.equal(mask, rows[:, None] & cols[None, :]) and bool(
        (rows.nonzero().diff(dim=0) == 1).all() and
        (cols.nonzero().diff(dim=0) == 1).all())


@pytest.mark.parametrize('mixer_cls', [CutMix, SaliencyMix])
@pytest.mark.parametrize('size', [(16, 16), (9, 23)])
def test_box_mixers_paste_one_box(mixer_cls, size):
    torch.manual_seed(0)
    mixer = mixer_cls(mode='pair')
    for _ in range(10):
        keep, lam = keep_mask(mixer, *size)
        assert is_rectangle(keep == 0)
        assert keep.mean().item() == pytest.approx(lam)


def test_box_mask_sides_centre_and_clipping():
    """Sides int(side * sqrt(1 - lam)) truncated to even, centred on the
    given pixel, clipped at the border."""
    lam = torch.tensor([0.75, 0.75, 0.0, 1.0, 0.5])
    rows = torch.tensor([4., 0., 4., 4., 3.])
    cols = torch.tensor([4., 0., 4., 4., 7.])
    masks = box_mask(lam, 8, 8, rows, cols)[:, 0]
    assert masks.shape == (5, 8, 8)
    # 0.5: int(8 * 0.707) = 5 -> half 2: rows 1..4, columns 5..7 (clipped)
    assert masks.sum((1, 2)).tolist() == [16, 4, 64, 0, 12]
    assert masks[0, 2:6, 2:6].all() and masks[1, :2, :2].all()
    assert masks[4, 1:5, 5:].all()


def saliency_reference(image):
    """Spectral residual (Hou & Zhang 2007) with numpy/scipy, on a grey
    (64, 64) image, OpenCV's filters (reflect-101 borders)."""
    spectrum = np.fft.fft2(image)
    log_amplitude = np.log(np.maximum(np.abs(spectrum), 1e-10))
    residual = log_amplitude - ndimage.uniform_filter(
        log_amplitude, size=3, mode='mirror')
    magnitude = np.abs(
        np.fft.ifft2(np.exp(residual) * np.exp(1j * np.angle(spectrum))))
    offsets = np.arange(5) - 2.
    kernel = np.exp(-offsets**2 / (2 * 8.**2))
    kernel /= kernel.sum()
    blurred = ndimage.correlate1d(magnitude, kernel, axis=0, mode='mirror')
    blurred = ndimage.correlate1d(blurred, kernel, axis=1, mode='mirror')
    return blurred**2


def test_spectral_residual_saliency_matches_reference():
    torch.manual_seed(1)
    images = torch.rand(3, 3, 64, 64)
    saliency = spectral_residual_saliency(images)
    assert saliency.shape == (3, 64, 64) and saliency.dtype == torch.float32
    for image, result in zip(images, saliency):
        reference = saliency_reference(image.mean(0).double().numpy())
        np.testing.assert_allclose(result.numpy(), reference, rtol=2e-3,
                                   atol=1e-6 * reference.max())


def spot_images(spots, height=32, width=32):
    """Images of smooth random texture (in [0, 0.4]), each with a small
    bright square at its (row, col)."""
    generator = torch.Generator().manual_seed(0)
    noise = torch.randn(len(spots), height, width // 2 + 1, 2,
                        generator=generator)
    texture = low_frequency_images(noise, height, width, decay_power=3.)
    low = texture.amin((1, 2), keepdim=True)
    high = texture.amax((1, 2), keepdim=True)
    images = (0.4 * (texture - low) / (high - low))[:, None].repeat(
        1, 3, 1, 1)
    for image, (row, col) in zip(images, spots):
        image[:, row - 1:row + 2, col - 1:col + 2] = 1.
    return images


SPOTS = [(5, 6), (20, 25), (27, 9), (12, 14), (6, 26)]


@pytest.mark.parametrize('size', [32, 64])
def test_saliency_peaks_at_the_salient_spot(size):
    saliency = spectral_residual_saliency(spot_images(SPOTS), size=size)
    peaks = saliency.flatten(1).argmax(1).tolist()
    for (row, col), peak in zip(SPOTS, peaks):
        assert abs((peak // size + 0.5) * 32 / size - row - 0.5) <= 1.5
        assert abs((peak % size + 0.5) * 32 / size - col - 0.5) <= 1.5


def test_saliencymix_box_sits_on_the_partners_spot():
    images = spot_images(SPOTS)
    torch.manual_seed(2)
    mixer = SaliencyMix(mode='elem')
    for _ in range(5):
        mixed, scores = mixer(images, torch.eye(5))
        for i in range(5):
            if scores[i, i] == 1:
                continue
            j = int((scores[i] - torch.eye(5)[i] * scores[i, i]).argmax())
            pasted = (mixed[i] != images[i]).any(0)
            assert is_rectangle(pasted)
            assert pasted.float().mean().item() == pytest.approx(
                1 - scores[i, i].item())
            rows = pasted.any(1).nonzero().flatten().tolist()
            cols = pasted.any(0).nonzero().flatten().tolist()
            row, col = SPOTS[j]
            assert rows[0] - 2 <= row <= rows[-1] + 2
            assert cols[0] - 2 <= col <= cols[-1] + 2


def test_low_frequency_images_match_numpy():
    torch.manual_seed(3)
    noise = torch.randn(2, 6, 5, 2, dtype=torch.float64)  # W = 9
    images = low_frequency_images(noise, 6, 9, decay_power=3.)
    freqs = np.sqrt(np.fft.fftfreq(6)[:, None]**2 +
                    np.fft.rfftfreq(9)[None, :]**2)
    scale = 1. / np.maximum(freqs, 1. / 9)**3
    for image, draw in zip(images, noise.numpy()):
        spectrum = (draw[..., 0] + 1j * draw[..., 1]) * scale
        np.testing.assert_allclose(
            image.numpy(), np.fft.irfft2(spectrum, s=(6, 9)), rtol=1e-4,
            atol=1e-5)


def test_higher_decay_power_gives_smoother_masks():
    torch.manual_seed(4)
    noise = torch.randn(16, 32, 17, 2)

    def roughness(decay_power):
        images = low_frequency_images(noise, 32, 32, decay_power)
        images = images / images.std(dim=(1, 2), keepdim=True)
        return images.diff(dim=1).abs().mean().item()

    assert roughness(3.) < roughness(1.) < roughness(0.)


def test_top_fraction_mask_keeps_the_brightest_pixels():
    torch.manual_seed(5)
    images = torch.randn(4, 7, 11)
    lam = torch.tensor([0.0, 0.3, 0.5, 1.0])
    masks = top_fraction_mask(images, lam, max_soft=0.)[:, 0]
    assert masks.dtype == torch.bool
    assert masks.sum((1, 2)).tolist() == [0, round(0.3 * 77), round(0.5 * 77),
                                          77]
    for image, mask in zip(images[1:3], masks[1:3]):
        assert image[mask].min() > image[~mask].max()


@pytest.mark.parametrize('max_soft', [0.05, 0.2, 0.5])
def test_soft_mask_ramps_around_the_threshold(max_soft):
    torch.manual_seed(6)
    images = torch.randn(3, 16, 16)
    lam = torch.tensor([0.1, 0.5, 0.8])
    masks = top_fraction_mask(images, lam, max_soft)[:, 0]
    assert masks.is_floating_point()
    assert ((masks >= 0) & (masks <= 1)).all()
    torch.testing.assert_close(masks.mean((1, 2)), lam, atol=1 / 256,
                               rtol=0)
    for image, mask, lam_ in zip(images, masks, lam.tolist()):
        order = image.flatten().argsort(descending=True)
        ramp = mask.flatten()[order]
        assert (ramp.diff() <= 0).all()  # brighter pixels weigh more
        band = ((ramp > 0) & (ramp < 1)).sum().item()
        assert 0 < band <= 2 * min(max_soft, lam_, 1 - lam_) * 256 + 1


def test_fmix_masks_are_binary_or_soft():
    torch.manual_seed(7)
    hard, lam = keep_mask(FMix(mode='pair'), 16, 16)
    assert set(hard.unique().tolist()) <= {0., 1.}
    assert hard.mean().item() == pytest.approx(lam)
    soft, lam = keep_mask(FMix(mode='pair', alpha=4., max_soft=0.3), 16, 16)
    assert ((soft > 0) & (soft < 1)).any()
    assert soft.mean().item() == pytest.approx(lam)


def test_gridmix_holes_form_a_regular_grid():
    """Holes are equal rectangles repeating with one period per axis."""
    torch.manual_seed(9)
    mixer = GridMix(mode='pair', n_holes=(3, 3), cut_area_ratio=(1., 1.),
                    cut_aspect_ratio=(1., 1.), alpha=2.)
    for _ in range(5):
        keep, lam = keep_mask(mixer, 24, 24)
        assert keep.mean().item() == pytest.approx(lam)
        shown = keep == 0
        rows = shown.any(1).nonzero().flatten()
        cols = shown.any(0).nonzero().flatten()
        assert torch.equal(shown, shown.any(1)[:, None] & shown.any(0))
        # 24 pixels, 3 cells of 8 per row: holes start every 8 pixels
        assert (cols[cols.diff(prepend=cols[:1] - 2) > 1] % 8 == 0).all()
        assert (rows[rows.diff(prepend=rows[:1] - 2) > 1] % 8 == 0).all()


@pytest.mark.parametrize('size', [(16, 16), (10, 24)])
def test_smoothmix_mask_is_a_gaussian_blob_on_a_pixel_corner(size):
    """``log(1 - keep)`` is ``-d**2 / (2 sigma**2)``: a quadratic with
    second difference ``-1 / (side * sigma)**2`` along each axis."""
    torch.manual_seed(10)
    height, width = size
    mixer = SmoothMix(mode='pair', sigma=(0.25, 0.5))
    for _ in range(5):
        keep, lam = keep_mask(mixer, height, width)
        assert keep.mean().item() == pytest.approx(lam)
        log_shown = (1 - keep).log()
        curve_y = log_shown.diff(n=2, dim=0)
        curve_x = log_shown.diff(n=2, dim=1)
        for curve in (curve_y, curve_x):  # float64 masks
            torch.testing.assert_close(
                curve, curve[:1, :1].expand_as(curve), rtol=1e-6, atol=1e-9)
        sigma_y = 1 / (height * (-curve_y.mean()).sqrt())
        sigma_x = 1 / (width * (-curve_x.mean()).sqrt())
        assert sigma_y.item() == pytest.approx(sigma_x.item(), rel=1e-6)
        assert 0.25 - 1e-6 <= sigma_y.item() <= 0.5 + 1e-6
        # The peak of the quadratic sits on a pixel corner (an integer
        # position along each axis, in pixel edges).
        for axis, curve in ((0, curve_y), (1, curve_x)):
            profile = log_shown.mean(1 - axis).double()
            slope = profile.diff()
            edges = torch.arange(1, len(profile), dtype=torch.float64)
            fit = torch.linalg.lstsq(
                torch.stack([edges, torch.ones_like(edges)], 1),
                slope[:, None]).solution.flatten()
            peak = -fit[1] / fit[0]  # where the slope crosses 0
            assert peak.item() == pytest.approx(round(peak.item()), abs=1e-6)
