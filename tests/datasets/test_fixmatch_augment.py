"""FixMatchRandAugment against FixMatch's reference augmentation (``rac``):
the ops, their level-to-magnitude maps, the draws and Cutout."""
import collections

import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageOps
from mmpretrain.registry import TRANSFORMS

import dm_plugin.datasets.fixmatch_augment as fixmatch_augment
from dm_plugin.datasets.fixmatch_augment import (FIXMATCH_OPS, GREY,
                                                 FixMatchRandAugment,
                                                 cutout_clipped)

# google-research/fixmatch libml/augment.py RANDOM_POLICY_OPS.
REFERENCE_OPS = ('Identity', 'AutoContrast', 'Equalize', 'Rotate', 'Solarize',
                 'Color', 'Contrast', 'Brightness', 'Sharpness', 'ShearX',
                 'TranslateX', 'TranslateY', 'Posterize', 'ShearY')


def image(seed=0, size=32):
    return np.random.default_rng(seed).integers(
        0, 256, (size, size, 3), dtype=np.uint8)


def test_the_pool_is_the_references():
    assert tuple(FIXMATCH_OPS) == REFERENCE_OPS


@pytest.mark.parametrize('name', REFERENCE_OPS)
@pytest.mark.parametrize('level', [1, 9])
def test_every_op_keeps_shape_and_dtype(name, level):
    out = FIXMATCH_OPS[name](image(), level)
    assert out.shape == (32, 32, 3) and out.dtype == np.uint8


@pytest.mark.parametrize('level', range(1, 10))
def test_solarize_and_posterize_levels(level):
    img = image(level)
    # Reference: ImageOps.solarize(img, 256 - int(level * 256 / 10)).
    threshold = 256 - int(level * 256 / 10)
    expected = np.where(img < threshold, img, 255 - img)
    np.testing.assert_array_equal(FIXMATCH_OPS['Solarize'](img, level),
                                  expected)
    # Reference: ImageOps.posterize(img, 4 - int(level * 4 / 10)).
    bits = 4 - int(level * 4 / 10)
    expected = np.asarray(ImageOps.posterize(Image.fromarray(img), bits))
    np.testing.assert_array_equal(FIXMATCH_OPS['Posterize'](img, level),
                                  expected)


@pytest.mark.parametrize('name, enhancer', [
    ('Brightness', ImageEnhance.Brightness),
    ('Contrast', ImageEnhance.Contrast),
    ('Color', ImageEnhance.Color),
    ('Sharpness', ImageEnhance.Sharpness),
])
@pytest.mark.parametrize('level', [1, 5, 9])
def test_enhance_ops_match_pil_at_the_references_factor(name, enhancer, level):
    """PIL's ImageEnhance at 0.1 + 1.8 * level / 10, on the RGB image
    whose BGR array the transform gets."""
    rgb = image(level)
    factor = level * 1.8 / 10 + 0.1
    expected = np.asarray(enhancer(Image.fromarray(rgb)).enhance(factor))
    out = FIXMATCH_OPS[name](np.ascontiguousarray(rgb[..., ::-1]), level)
    diff = np.abs(out[..., ::-1].astype(int) - expected.astype(int))
    assert diff.max() <= 2  # rounding differences only


@pytest.mark.parametrize('level', [1, 4, 9])
def test_translate_shifts_by_level_pixels_and_fills_grey(level, monkeypatch):
    monkeypatch.setattr(fixmatch_augment, '_signed', lambda value: value)
    img = image()
    out = FIXMATCH_OPS['TranslateX'](img, level)
    np.testing.assert_array_equal(out[:, level:], img[:, :-level])
    assert (out[:, :level] == GREY).all()
    out = FIXMATCH_OPS['TranslateY'](img, level)
    np.testing.assert_array_equal(out[level:], img[:-level])
    assert (out[:level] == GREY).all()


@pytest.mark.parametrize('name, corner', [('Rotate', (0, 0)),
                                          ('ShearX', (31, 0)),
                                          ('ShearY', (0, 31))])
def test_geometric_ops_fill_uncovered_pixels_grey(name, corner, monkeypatch):
    monkeypatch.setattr(fixmatch_augment, '_signed', lambda value: value)
    out = FIXMATCH_OPS[name](np.zeros((32, 32, 3), np.uint8), 9)
    assert (out[corner] == GREY).all()
    assert set(np.unique(out)) == {0, GREY}  # nearest: no blended values


def test_draws_follow_the_reference(monkeypatch):
    """Ops uniform over the 14 with replacement, levels uniform in 1..9,
    each drawn op applied with probability 0.5."""
    calls = []
    recorder = collections.OrderedDict(
        (name, lambda img, level, name=name: calls.append((name, level))
         or img) for name in REFERENCE_OPS)
    monkeypatch.setattr(fixmatch_augment, 'FIXMATCH_OPS', recorder)
    transform = FixMatchRandAugment(cutout=0)
    np.random.seed(0)
    draws = 6000
    for _ in range(draws):
        transform(dict(img=image()))
    names = collections.Counter(name for name, _ in calls)
    levels = collections.Counter(level for _, level in calls)
    applied = len(calls) / (2 * draws)
    assert abs(applied - 0.5) < 0.02
    assert set(names) == set(REFERENCE_OPS)
    expected = len(calls) / 14
    assert all(abs(n - expected) < 5 * expected**0.5 for n in names.values())
    assert set(levels) == set(range(1, 10))
    expected = len(calls) / 9
    assert all(abs(n - expected) < 5 * expected**0.5 for n in levels.values())


def test_two_draws_may_repeat_an_op(monkeypatch):
    """The reference draws with replacement (np.random.choice)."""
    pairs = []
    transform = FixMatchRandAugment(op_prob=1.0, cutout=0)
    recorder = {name: lambda img, level, name=name: pairs.append(name) or img
                for name in REFERENCE_OPS}
    monkeypatch.setattr(fixmatch_augment, 'FIXMATCH_OPS', recorder)
    np.random.seed(1)
    for _ in range(300):
        transform(dict(img=image()))
    assert any(a == b for a, b in zip(pairs[::2], pairs[1::2]))


def test_cutout_is_a_clipped_grey_square_always_applied():
    np.random.seed(0)
    sides = set()
    for _ in range(400):
        img = np.zeros((32, 32, 3), np.uint8)
        out = cutout_clipped(img, 16)
        rows, cols = np.nonzero((out == GREY).all(axis=-1))
        assert rows.size > 0
        height = rows.max() - rows.min() + 1
        width = cols.max() - cols.min() + 1
        assert rows.size == height * width  # a rectangle
        sides.update((height, width))
        assert (img == 0).all()  # the input is not changed
    assert max(sides) == 16 and min(sides) <= 9  # clipped at the borders


def test_transform_output_and_registration():
    transform = TRANSFORMS.build(dict(type='FixMatchRandAugment'))
    np.random.seed(0)
    img = image()
    out = transform(dict(img=img.copy()))['img']
    assert out.shape == img.shape and out.dtype == np.uint8
    assert (out == GREY).all(axis=-1).sum() >= 64  # Cutout at least 8x8
    assert 'num_ops=2' in repr(transform)


@pytest.mark.parametrize('kwargs, error, message', [
    (dict(num_ops=0), ValueError, 'num_ops'),
    (dict(max_level=12), ValueError, 'max_level'),
    (dict(max_level=1), ValueError, 'max_level'),
    (dict(op_prob=1.5), ValueError, 'op_prob'),
    (dict(cutout=-1), ValueError, 'cutout'),
    (dict(cutout=2.5), TypeError, 'cutout'),
])
def test_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        FixMatchRandAugment(**kwargs)


@pytest.mark.parametrize('img', [np.zeros((8, 8, 3), np.float32),
                                 np.zeros((8, 8, 1), np.uint8),
                                 np.zeros((8, 8), np.uint8)])
def test_bad_image_is_named(img):
    with pytest.raises(TypeError, match=r'\(H, W, 3\) uint8'):
        FixMatchRandAugment()(dict(img=img))
