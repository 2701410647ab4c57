"""Batch crop / resized crop / flip against mmpretrain's per-sample
transforms: the same pixels for the same parameters, and parameters drawn
with the same distribution (many draws, chi-square tests of homogeneity)."""
import mmcv
import numpy as np
import pytest
import torch
from mmcv.transforms import RandomFlip
from mmpretrain.datasets.transforms import RandomCrop, RandomResizedCrop
from scipy import stats

from dm_plugin.models.data_preprocessors import (BatchRandomCrop,
                                                 BatchRandomFlip,
                                                 BatchRandomResizedCrop,
                                                 build_batch_transform)

DRAWS = 4000


def uniform_of(batch, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return lambda num: torch.rand((batch, num), generator=generator)


def images(batch, height, width, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (batch, 3, height, width), dtype=torch.uint8,
                         generator=generator)


def hwc(image):
    return image.permute(1, 2, 0).numpy()


def homogeneous(ours, theirs) -> float:
    """p-value of a chi-square test that two samples of (hashable) outcomes
    come from one distribution."""
    keys = sorted(set(ours) | set(theirs))
    table = np.array([[list(sample).count(k) for k in keys]
                      for sample in (ours, theirs)])
    return stats.chi2_contingency(table)[1]


@pytest.mark.parametrize('padding', [4, (2, 5), (1, 2, 3, 0), None])
def test_crop_pixels_equal_mmcv_pad_and_crop(padding):
    batch = images(16, 12, 10)
    crop = BatchRandomCrop((12, 9), padding=padding)
    params = crop.draw(uniform_of(16), (12, 10))
    out = crop.apply(batch, params)
    offset_y, offset_x, crop_h, crop_w = params
    assert out.shape == (16, 3, crop_h, crop_w) and out.dtype == torch.uint8
    for i in range(16):
        padded = hwc(batch[i])
        if padding is not None:
            padded = mmcv.impad(padded, padding=padding, pad_val=0)
        y, x = int(offset_y[i]), int(offset_x[i])
        np.testing.assert_array_equal(
            hwc(out[i]), padded[y:y + crop_h, x:x + crop_w])


def test_crop_pads_zeros_whatever_padding_mode_says_as_mmpretrain():
    """mmpretrain's RandomCrop passes padding_mode only to pad_if_needed;
    `padding` is filled with pad_val. The batch version does the same (and
    says so)."""
    batch = images(1, 8, 8)
    theirs = RandomCrop(8, padding=3, padding_mode='reflect')
    np.random.seed(0)
    while True:  # a draw with padding in the corner
        result = theirs(dict(img=hwc(batch[0]).copy()))
        if (result['img'][0, 0] == 0).all():
            break
    ours = BatchRandomCrop(8, padding=3, padding_mode='reflect')
    out = ours.apply(batch, (torch.tensor([0]), torch.tensor([0]), 8, 8))
    assert (out[0, :, :3, :3] == 0).all()


@pytest.mark.parametrize('mode', ['constant', 'edge', 'reflect',
                                  'symmetric'])
@pytest.mark.parametrize('size, crop, padding', [
    ((5, 6), (8, 16), None),  # 2 rows (ceil 3/2), 5 > 6 - 1 columns a side
    ((12, 10), (14, 9), (1, 0)),  # `padding` (zeros) first, then the mode
    ((32, 32), 40, None),
])
def test_pad_if_needed_equals_mmpretrain(mode, size, crop, padding):
    """Every sample's pixels equal mmpretrain's RandomCrop (``padding``,
    then ``pad_if_needed`` with ``padding_mode`` through ``mmcv.impad``)
    for the same offsets, which lie within the padded image."""
    batch = images(8, *size)
    ours = BatchRandomCrop(crop, padding=padding, pad_if_needed=True,
                           padding_mode=mode)
    params = ours.draw(uniform_of(8), size)
    out = ours.apply(batch, params)
    offset_y, offset_x, crop_h, crop_w = params
    theirs = RandomCrop(crop, padding=padding, pad_if_needed=True,
                        padding_mode=mode)
    for i in range(8):
        theirs.rand_crop_params = lambda image: (  # noqa: B023
            int(offset_y[i]), int(offset_x[i]), crop_h, crop_w)
        expected = theirs(dict(img=hwc(batch[i]).copy()))['img']
        np.testing.assert_array_equal(hwc(out[i]), expected)
    height, width, _, _ = ours.padded_size(size)
    assert (height, width) >= tuple(ours.crop_size)
    assert int(offset_y.max()) <= height - crop_h
    assert int(offset_x.max()) <= width - crop_w


def test_reflect_padded_crop_equals_torchvision_reflect_padding():
    """RandomCrop(40, pad_if_needed, reflect) + RandomCrop(32) gives, for
    each of the 81 offsets, torchvision's RandomCrop(32, padding=4,
    padding_mode='reflect') crop (OpenMixup's CIFAR-100 augmentation)."""
    import torchvision.transforms.functional as TF
    image = images(1, 32, 32)
    pad = BatchRandomCrop(40, pad_if_needed=True, padding_mode='reflect')
    padded = pad(image.expand(81, -1, -1, -1), uniform_of(81))
    offsets = torch.arange(81)
    out = BatchRandomCrop(32).apply(padded, (offsets // 9, offsets % 9, 32,
                                             32))
    reference = TF.pad(image[0], 4, padding_mode='reflect')
    for k in range(81):
        y, x = divmod(k, 9)
        assert torch.equal(out[k], reference[:, y:y + 32, x:x + 32])


def test_crop_offsets_distribution_matches_mmpretrain():
    theirs = RandomCrop(32, padding=4)
    padded = np.zeros((40, 40, 3), np.uint8)
    np.random.seed(0)
    reference = [theirs.rand_crop_params(padded)[:2] for _ in range(DRAWS)]
    offset_y, offset_x, _, _ = BatchRandomCrop(32, padding=4).draw(
        uniform_of(DRAWS), (32, 32))
    ours = list(zip(offset_y.tolist(), offset_x.tolist()))
    assert homogeneous(ours, reference) > 1e-3
    # and each offset is uniform over the 9 positions
    for values in (offset_y, offset_x):
        counts = np.bincount(values.numpy(), minlength=9)
        assert len(counts) == 9
        assert stats.chisquare(counts).pvalue > 1e-3


def test_crop_larger_than_image_crops_the_whole_image():
    crop = BatchRandomCrop(20, padding=1)
    out = crop(images(3, 8, 8), uniform_of(3))
    assert out.shape == (3, 3, 10, 10)


@pytest.mark.parametrize('size,scale', [(32, 32), (64, 64), ((40, 24),
                                                             (16, 20))])
def test_resized_crop_equals_mmcv_imcrop_imresize_exactly(size, scale):
    size = (size, size) if isinstance(size, int) else size
    batch = images(64, *size)
    rrc = BatchRandomResizedCrop(scale)
    params = rrc.draw(uniform_of(64), size)
    out = rrc.apply(batch, params)
    out_h, out_w = rrc.scale
    assert out.shape == (64, 3, out_h, out_w) and out.dtype == torch.uint8
    for i, (top, left, h, w) in enumerate(zip(*(p.tolist() for p in params))):
        crop = mmcv.imcrop(hwc(batch[i]),
                           np.array([left, top, left + w - 1, top + h - 1]))
        expected = mmcv.imresize(crop, (out_w, out_h),
                                 interpolation='bilinear', backend='cv2')
        np.testing.assert_array_equal(hwc(out[i]), expected)


def test_resized_crop_identity_and_2x_downscale_exact():
    batch = images(2, 16, 16)
    rrc = BatchRandomResizedCrop(8)
    full = (torch.tensor([0, 0]), torch.tensor([0, 0]), torch.tensor([16, 16]),
            torch.tensor([16, 16]))
    expected = mmcv.imresize(hwc(batch[1]), (8, 8), backend='cv2')
    np.testing.assert_array_equal(hwc(rrc.apply(batch, full)[1]), expected)
    same = BatchRandomResizedCrop(16).apply(batch, full)
    assert torch.equal(same, batch)


@pytest.mark.parametrize('size,kwargs', [
    ((64, 64), {}),
    ((64, 64), dict(max_attempts=1)),  # the central fallback is frequent
    ((16, 64), dict(max_attempts=2, crop_ratio_range=(0.5, 1.0))),
])
def test_resized_crop_parameter_distribution_matches_mmpretrain(
        size, kwargs):
    theirs = RandomResizedCrop(scale=32, **kwargs)
    image = np.zeros(size + (3, ), np.uint8)
    np.random.seed(0)
    reference = [theirs.rand_crop_params(image) for _ in range(DRAWS)]
    ours = BatchRandomResizedCrop(32, **kwargs).draw(uniform_of(DRAWS), size)
    ours = list(zip(*(p.tolist() for p in ours)))

    def crop_size(params):  # (h, w) in bins of 8 pixels
        return [(h // 8, w // 8) for _, _, h, w in params]

    def relative_offset(params):  # top / room in fifths, room > 0 only
        return [(int(5 * top / (size[0] - h + 1)),
                 int(5 * left / (size[1] - w + 1)))
                for top, left, h, w in params]

    assert homogeneous(crop_size(ours), crop_size(reference)) > 1e-3
    assert homogeneous(relative_offset(ours),
                       relative_offset(reference)) > 1e-3
    fallback = BatchRandomResizedCrop(32, **kwargs).central_crop(*size)
    fallback_rate = [sum(tuple(p) == fallback for p in params) / DRAWS
                     for params in (ours, reference)]
    assert abs(fallback_rate[0] - fallback_rate[1]) < 0.03
    if kwargs.get('max_attempts') == 1:
        assert fallback_rate[1] > 0.05  # the case is exercised


@pytest.mark.parametrize('size,kwargs', [((16, 64), {}), ((64, 16), {}),
                                         ((30, 40), {})])
def test_resized_crop_fallback_equals_mmpretrains(size, kwargs):
    theirs = RandomResizedCrop(scale=8, max_attempts=0, **kwargs)
    ours = BatchRandomResizedCrop(8, max_attempts=0, **kwargs)
    expected = theirs.rand_crop_params(np.zeros(size + (3, ), np.uint8))
    drawn = ours.draw(uniform_of(3), size)
    assert [p.tolist() for p in drawn] == [[v] * 3 for v in expected]


@pytest.mark.parametrize('prob,direction', [
    (0.5, 'horizontal'),
    (0.3, 'vertical'),
    (0.6, ['horizontal', 'vertical']),
    ([0.2, 0.1, 0.3], ['horizontal', 'vertical', 'diagonal']),
])
def test_flip_distribution_and_pixels_match_mmcv(prob, direction):
    theirs = RandomFlip(prob=prob, direction=direction)
    np.random.seed(0)
    reference = [str(theirs._choose_direction()) for _ in range(DRAWS)]
    ours = BatchRandomFlip(prob, direction)
    horizontal, vertical = ours.draw(uniform_of(DRAWS))
    names = {(False, False): 'None', (True, False): 'horizontal',
             (False, True): 'vertical', (True, True): 'diagonal'}
    drawn = [names[h, v] for h, v in zip(horizontal.tolist(),
                                         vertical.tolist())]
    assert homogeneous(drawn, reference) > 1e-3
    batch = images(DRAWS, 4, 5)[:8]
    out = ours.apply(batch, (horizontal[:8], vertical[:8]))
    for i, name in enumerate(drawn[:8]):
        expected = hwc(batch[i]) if name == 'None' else mmcv.imflip(
            hwc(batch[i]), name)
        np.testing.assert_array_equal(hwc(out[i]), expected)


def test_pipeline_output_statistics_match_the_per_sample_pipeline():
    """End to end: one image through RandomCrop(padding) + RandomFlip many
    times, per sample (mmpretrain) and batched; per-pixel means agree within
    sampling error."""
    image = images(1, 12, 12)
    crop = dict(type='RandomCrop', crop_size=12, padding=3)
    flip = dict(type='RandomFlip', prob=0.5, direction='horizontal')
    np.random.seed(0)
    per_sample = np.stack([
        RandomFlip(prob=0.5)(RandomCrop(12, padding=3)(
            dict(img=hwc(image[0]).copy())))['img'] for _ in range(DRAWS)
    ]).astype(np.float64)
    batch = image.expand(DRAWS, -1, -1, -1)
    uniform = uniform_of(DRAWS)
    for cfg in (crop, flip):
        batch = build_batch_transform(cfg)(batch, uniform)
    batched = batch.permute(0, 2, 3, 1).numpy().astype(np.float64)
    spread = np.sqrt((per_sample.var(0) + batched.var(0)) / DRAWS) + 1e-9
    z = (per_sample.mean(0) - batched.mean(0)) / spread
    assert np.abs(z).max() < 5  # 432 pixels, 5 sigma


def test_bad_arguments_are_named():
    with pytest.raises(KeyError, match="'ColorJitter'.*RandomCrop"):
        build_batch_transform(dict(type='ColorJitter'))
    with pytest.raises(TypeError, match='RandomCrop: .*unexpected'):
        build_batch_transform(dict(type='RandomCrop', crop_size=8, size=3))
    with pytest.raises(ValueError, match="unknown padding_mode 'wrap'"):
        BatchRandomCrop(8, pad_if_needed=True, padding_mode='wrap')
    with pytest.raises(ValueError, match='pad_val=7 is not supported'):
        BatchRandomCrop(8, padding=2, pad_val=7)
    with pytest.raises(ValueError, match='padding must be'):
        BatchRandomCrop(8, padding=(1, 2, 3))
    with pytest.raises(ValueError, match='crop_ratio_range must be'):
        BatchRandomResizedCrop(8, crop_ratio_range=(0.9, 0.1))
    with pytest.raises(ValueError, match='bilinear'):
        BatchRandomResizedCrop(8, interpolation='bicubic')
    with pytest.raises(ValueError, match='sum to'):
        BatchRandomFlip([0.7, 0.6], ['horizontal', 'vertical'])
    with pytest.raises(ValueError, match='unknown direction'):
        BatchRandomFlip(0.5, 'sideways')
