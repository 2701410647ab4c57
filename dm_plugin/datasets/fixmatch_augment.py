"""FixMatch's strong augmentation: RandAugment with random magnitudes, then
Cutout, as FixMatch's reference code applies it.

Sohn et al., "FixMatch: Simplifying Semi-Supervised Learning with Consistency
and Confidence", NeurIPS 2020 (google-research/fixmatch, augmentation
``rac``: ``libml/augment.py`` ``AugmentPoolRAMC`` with the operations of
``third_party/auto_augment/augmentations.py``).

Per image: ``num_ops`` operations drawn with replacement from the 14 below,
each applied with probability ``op_prob`` at an integer level drawn
uniformly from ``1 .. max_level - 1``, then a square of side ``cutout``
(clipped at the borders) filled with grey. A level ``v`` maps to the
AutoAugment magnitudes of the reference (``v / 10`` of the maximum):

====================  ==================================================
Identity              -
AutoContrast          per channel, no cut-off
Equalize              per channel histogram equalisation
Rotate                ``+-3v`` degrees
Solarize              invert pixels ``>= 256 - int(25.6 v)``
Color, Contrast,      enhance factor ``0.1 + 0.18 v`` (PIL's ImageEnhance)
Brightness, Sharpness
ShearX, ShearY        ``+-0.03 v``
TranslateX,           ``+-v`` pixels (the reference's absolute offsets,
TranslateY            made for 32x32 images)
Posterize             keep ``4 - int(0.4 v)`` bits
====================  ==================================================

Signs are drawn with probability 0.5; pixels that geometric operations
uncover are grey (the reference's transparent pixels, which it maps to the
middle of the range).
"""
import numpy as np
import mmcv
from mmcv.transforms import BaseTransform
from mmpretrain.registry import TRANSFORMS

from dm_plugin.validation import check_int, check_number

GREY = 128
# One value per channel: cv2 fills the other channels of a scalar with 0.
FILL = (GREY, GREY, GREY)
# The reference's PARAMETER_MAX: a level v gives v / 10 of an op's maximum.
PARAMETER_MAX = 10


def _signed(value: float) -> float:
    return -value if np.random.rand() < 0.5 else value


def _enhance_factor(level: int) -> float:
    return level * 1.8 / PARAMETER_MAX + 0.1


def _int_parameter(level: int, maximum: int) -> int:
    return int(level * maximum / PARAMETER_MAX)


def _rotate(img, level):
    angle = _signed(_int_parameter(level, 30))
    return mmcv.imrotate(img, angle, border_value=FILL,
                         interpolation='nearest')


def _shear(direction):
    def apply(img, level):
        magnitude = _signed(level * 0.3 / PARAMETER_MAX)
        return mmcv.imshear(img, magnitude, direction, border_value=FILL,
                            interpolation='nearest')
    return apply


def _translate(direction):
    def apply(img, level):
        offset = _signed(_int_parameter(level, 10))
        return mmcv.imtranslate(img, offset, direction, border_value=FILL,
                                interpolation='nearest')
    return apply


def _enhance(adjust):
    return lambda img, level: adjust(img, _enhance_factor(level))


def _sharpness(img, level):
    """PIL's ``ImageEnhance.Sharpness``: a blend with the SMOOTH-filtered
    image, whose one-pixel border PIL leaves unfiltered (mmcv's
    ``adjust_sharpness`` filters it too, 12% of a 32x32 image)."""
    factor = _enhance_factor(level)
    smooth = mmcv.adjust_sharpness(img, 0.)
    smooth[[0, -1]] = img[[0, -1]]
    smooth[:, [0, -1]] = img[:, [0, -1]]
    blended = img * np.float32(factor) + smooth * np.float32(1 - factor)
    return np.clip(blended, 0, 255).astype(np.uint8)


FIXMATCH_OPS = {
    'Identity': lambda img, level: img,
    'AutoContrast': lambda img, level: mmcv.auto_contrast(img),
    'Equalize': lambda img, level: mmcv.imequalize(img),
    'Rotate': _rotate,
    'Solarize': lambda img, level: mmcv.solarize(
        img, 256 - _int_parameter(level, 256)),
    'Color': _enhance(mmcv.adjust_color),
    'Contrast': _enhance(mmcv.adjust_contrast),
    'Brightness': _enhance(mmcv.adjust_brightness),
    'Sharpness': _sharpness,
    'ShearX': _shear('horizontal'),
    'TranslateX': _translate('horizontal'),
    'TranslateY': _translate('vertical'),
    'Posterize': lambda img, level: mmcv.posterize(
        img, 4 - _int_parameter(level, 4)),
    'ShearY': _shear('vertical'),
}


def cutout_clipped(img: np.ndarray, size: int) -> np.ndarray:
    """The reference's Cutout: a ``size`` square centred on a uniformly drawn
    pixel, clipped at the borders (so smaller there), filled with grey."""
    height, width = img.shape[:2]
    row, col = np.random.randint(height), np.random.randint(width)
    top, left = max(0, row - size // 2), max(0, col - size // 2)
    bottom, right = min(height, row + size // 2), min(width, col + size // 2)
    img = img.copy()
    img[top:bottom, left:right] = GREY
    return img


@TRANSFORMS.register_module()
class FixMatchRandAugment(BaseTransform):
    """FixMatch's RandAugment (random magnitudes) followed by Cutout.

    Paper: Sohn et al., "FixMatch", NeurIPS 2020; the operations, levels and
    Cutout of its reference code (augmentation ``rac``), listed in
    :mod:`dm_plugin.datasets.fixmatch_augment`.

    Photometric operations follow mmcv's conventions, which assume BGR
    images (mmcv's ``LoadImageFromFile``): on RGB arrays (mmpretrain's
    ``CIFAR10``) only ``Color`` and ``Contrast`` change slightly, through
    the weights of their grey image.

    Args:
        num_ops (int): Operations per image. Defaults to 2.
        max_level (int): Levels are drawn from ``1 .. max_level - 1``
            (``np.random.randint(1, max_level)``); at most 11, where level 10
            is each operation's maximum. Defaults to 10.
        op_prob (float): Probability of applying each drawn operation.
            Defaults to 0.5.
        cutout (int): Side of the Cutout square in pixels (16 for 32x32
            images, half the side); 0 disables it. Defaults to 16.

    Required keys: ``img`` (H, W, 3) uint8. Modified keys: ``img``.
    """

    def __init__(self,
                 num_ops: int = 2,
                 max_level: int = 10,
                 op_prob: float = 0.5,
                 cutout: int = 16):
        check_int('num_ops', num_ops, 1)
        check_int('max_level', max_level, 2)
        if max_level > PARAMETER_MAX + 1:
            raise ValueError(f'max_level must be <= {PARAMETER_MAX + 1} (the '
                             f'levels stop at {PARAMETER_MAX}), got '
                             f'{max_level}')
        check_number('op_prob', op_prob, low=0., high=1., low_inclusive=True)
        check_int('cutout', cutout, 0)
        self.num_ops = num_ops
        self.max_level = max_level
        self.op_prob = float(op_prob)
        self.cutout = cutout
        self.op_names = tuple(FIXMATCH_OPS)

    def transform(self, results: dict) -> dict:
        img = results['img']
        if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or \
                img.shape[2:] != (3, ):
            raise TypeError('FixMatchRandAugment needs an (H, W, 3) uint8 '
                            f'image, got {getattr(img, "dtype", type(img))} '
                            f'of shape {getattr(img, "shape", None)}')
        names = np.random.choice(self.op_names, self.num_ops)
        levels = np.random.randint(1, self.max_level, self.num_ops)
        for name, level in zip(names, levels):
            if np.random.rand() < self.op_prob:
                img = FIXMATCH_OPS[name](img, int(level))
        if self.cutout:
            img = cutout_clipped(img, self.cutout)
        results['img'] = np.ascontiguousarray(img, dtype=np.uint8)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(num_ops={self.num_ops}, max_level='
                f'{self.max_level}, op_prob={self.op_prob}, '
                f'cutout={self.cutout})')
