"""mmpretrain's random crop, random resized crop and flip, on a whole batch.

Each transform takes a (B, C, H, W) batch and ``uniform(k)``, a function
returning (B, k) uniform numbers in [0, 1) (from torch's generator of the
batch's device), and draws every sample's parameters with the distribution
the per-sample transform (``mmpretrain.datasets.transforms``, mmcv's
``RandomFlip``) draws them with; ``apply(images, params)`` then gives what
the per-sample transform gives for those parameters. No host syncs.
"""
import logging
import math
from typing import Callable, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.logging import print_log

from dm_plugin.validation import check_choice, check_int, check_number

Uniform = Callable[[int], torch.Tensor]
FLIP_DIRECTIONS = ('horizontal', 'vertical', 'diagonal')


def _pair(name: str, value) -> Tuple[int, int]:
    """``(h, w)`` from an int or an ``(h, w)`` sequence of positive ints."""
    values = (value, value) if not isinstance(value, Sequence) else value
    if len(values) != 2:
        raise ValueError(f'{name} must be an int or (h, w), got {value!r}')
    for each in values:
        check_int(name, each, 1)
    return tuple(values)


def _uniform_int(u: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
    """``numpy.random.randint(0, high)`` from uniforms ``u`` in [0, 1)."""
    return (u * high).long().clamp_(max=high - 1) if isinstance(
        high, int) else torch.minimum((u * high).long(), high - 1)


def _border_index(size: int, pad: int, mode: str,
                  device) -> torch.Tensor:
    """The source index of each position of a line of ``size`` pixels
    padded by ``pad`` on both sides, as OpenCV's border modes index it
    (``mmcv.impad``'s ``padding_mode``; any ``pad``)."""
    index = torch.arange(-pad, size + pad, device=device)
    if mode == 'edge':  # BORDER_REPLICATE: aaa|abcd|ddd
        return index.clamp(0, size - 1)
    if mode == 'symmetric':  # BORDER_REFLECT: cba|abcd|dcb
        index = index.remainder(2 * size)
        return torch.where(index >= size, 2 * size - 1 - index, index)
    if size == 1:  # 'reflect', BORDER_REFLECT_101: dcb|abcd|cba
        return torch.zeros_like(index)
    index = index.remainder(2 * (size - 1))
    return torch.where(index >= size, 2 * (size - 1) - index, index)


class BatchRandomCrop:
    """mmpretrain's ``RandomCrop`` on a batch.

    As there, ``padding`` (an int, ``(left/right, top/bottom)`` or
    ``(left, top, right, bottom)``) pads with zeros whatever
    ``padding_mode`` says; ``pad_if_needed`` then pads an image smaller than
    ``crop_size`` by ``ceil(missing / 2)`` on each side with ``padding_mode``
    (``'constant'`` zeros, ``'edge'``, ``'reflect'`` (``dcb|abcd|cba``) or
    ``'symmetric'`` (``cba|abcd|dcb``), OpenCV's border modes that
    ``mmcv.impad`` uses). The offsets are uniform over the positions of a
    ``crop_size`` window in the padded image (a smaller image is cropped to
    its own size).

    A 4-pixel reflect-padded 32x32 crop (torchvision's ``RandomCrop(32,
    padding=4, padding_mode='reflect')``) is therefore
    ``RandomCrop(crop_size=40, pad_if_needed=True, padding_mode='reflect')``
    followed by ``RandomCrop(crop_size=32)``, per sample and here.
    """

    def __init__(self,
                 crop_size: Union[int, Sequence[int]],
                 padding: Union[int, Sequence[int], None] = None,
                 pad_if_needed: bool = False,
                 pad_val: float = 0,
                 padding_mode: str = 'constant'):
        self.crop_size = _pair('crop_size', crop_size)
        if pad_val != 0:
            # mmcv.impad hands a number to cv2 as Scalar(v, 0, 0): only the
            # first channel (B of BGR, R of RGB) gets it.
            raise ValueError(
                f'RandomCrop: pad_val={pad_val!r} is not supported on the '
                'batch: mmcv pads only the first channel with a scalar '
                'pad_val, which depends on the channel order; use 0')
        check_choice('padding_mode', padding_mode,
                     ('constant', 'edge', 'reflect', 'symmetric'))
        if padding is None:
            padding = 0
        if isinstance(padding, int):
            padding = (padding, ) * 4
        elif len(padding) == 2:
            padding = (padding[0], padding[1]) * 2
        if len(padding) != 4:
            raise ValueError('padding must be an int or a sequence of 2 or 4, '
                             f'got {padding!r}')
        for each in padding:
            check_int('padding', each, 0)
        self.padding = tuple(padding)  # left, top, right, bottom
        self.pad_if_needed = pad_if_needed
        self.padding_mode = padding_mode
        if padding_mode != 'constant' and any(padding):
            print_log(
                f"RandomCrop: padding_mode={padding_mode!r} does not apply to "
                '`padding`, which mmpretrain pads with pad_val (0) '
                '(padding_mode is for pad_if_needed); so does the batch '
                'version', logger='current', level=logging.WARNING)

    def padded_size(self, size: Tuple[int, int]) -> Tuple[int, int, int, int]:
        """``(height, width, h_pad, w_pad)``: the size after ``padding`` and
        ``pad_if_needed``, and what ``pad_if_needed`` adds on each side."""
        left, top, right, bottom = self.padding
        height, width = size[0] + top + bottom, size[1] + left + right
        h_pad = w_pad = 0
        if self.pad_if_needed:
            h_pad = math.ceil(max(0, self.crop_size[0] - height) / 2)
            w_pad = math.ceil(max(0, self.crop_size[1] - width) / 2)
        return height + 2 * h_pad, width + 2 * w_pad, h_pad, w_pad

    def draw(self, uniform: Uniform, size: Tuple[int, int]):
        """(B,) top and left offsets in the padded image, and the crop's
        (h, w)."""
        height, width, _, _ = self.padded_size(size)
        crop_h, crop_w = (min(height, self.crop_size[0]),
                          min(width, self.crop_size[1]))
        u = uniform(2)
        return (_uniform_int(u[:, 0], height - crop_h + 1),
                _uniform_int(u[:, 1], width - crop_w + 1), crop_h, crop_w)

    def apply(self, images: torch.Tensor, params) -> torch.Tensor:
        offset_y, offset_x, crop_h, crop_w = params
        left, top, right, bottom = self.padding
        _, _, h_pad, w_pad = self.padded_size(images.shape[-2:])
        if any(self.padding):
            images = F.pad(images, (left, right, top, bottom))
        if self.padding_mode == 'constant' and (h_pad or w_pad):
            images = F.pad(images, (w_pad, w_pad, h_pad, h_pad))
        elif h_pad or w_pad:
            rows, cols = (_border_index(size, pad, self.padding_mode,
                                        images.device)
                          for size, pad in zip(images.shape[-2:],
                                               (h_pad, w_pad)))
            images = images[..., rows[:, None], cols]
        windows = images.unfold(2, crop_h, 1).unfold(3, crop_w, 1)
        batch = torch.arange(len(images), device=images.device)
        return windows[batch, :, offset_y, offset_x]  # (B, C, h, w)

    def __call__(self, images: torch.Tensor, uniform: Uniform):
        return self.apply(images, self.draw(uniform, images.shape[-2:]))


# OpenCV's fixed-point bilinear resize of uint8 images: 11-bit weights.
COEF_SCALE = 2048


def _cv2_linear_taps(start: torch.Tensor, length: torch.Tensor,
                     out_size: int, clamp_weight: bool):
    """Source indices and 11-bit weights of OpenCV's ``INTER_LINEAR``
    resize of ``[start, start + length)`` to ``out_size``, per sample.

    Positions are ``(i + 0.5) * length / out_size - 0.5`` in float32, as
    OpenCV computes them; indices are clamped to the crop. Along a row
    (``clamp_weight``) OpenCV also zeroes the weight at the borders; along a
    column it keeps it (both taps then read the border row).
    """
    steps = torch.arange(out_size, device=start.device, dtype=torch.float64)
    scale = 1. / (out_size / length.double())
    position = ((steps + 0.5) * scale[:, None] - 0.5).float()
    first = position.floor()
    frac = position - first
    last = (length - 1)[:, None].float()
    if clamp_weight:
        frac = torch.where((first < 0) | (first >= last),
                           torch.zeros_like(frac), frac)
    second = torch.minimum((first + 1).clamp(min=0), last)
    first = torch.minimum(first.clamp(min=0), last)
    return (start[:, None] + first.long(), start[:, None] + second.long(),
            torch.round((1 - frac) * COEF_SCALE).int(),
            torch.round(frac * COEF_SCALE).int())


class BatchRandomResizedCrop:
    """mmpretrain's ``RandomResizedCrop`` (bilinear, cv2) on a batch.

    Per sample, up to ``max_attempts`` (area fraction, log aspect ratio)
    pairs are drawn uniformly; the first whose rounded crop fits is used at a
    uniform offset, else the central crop of the allowed aspect ratio. The
    crop is resized with the integer arithmetic of OpenCV's uint8
    ``INTER_LINEAR`` resize (11-bit weights, a row pass then a column pass
    with its rounding shifts), so the result equals ``mmcv.imresize``'s
    pixel for pixel (tested with OpenCV 5.0; builds with other code paths,
    e.g. Intel IPP, may differ by one grey level). Returns uint8.
    """

    def __init__(self,
                 scale: Union[int, Sequence[int]],
                 crop_ratio_range: Tuple[float, float] = (0.08, 1.0),
                 aspect_ratio_range: Tuple[float, float] = (3. / 4., 4. / 3.),
                 max_attempts: int = 10,
                 interpolation: str = 'bilinear',
                 backend: str = 'cv2'):
        self.scale = _pair('scale', scale)
        for name, (low, high) in (('crop_ratio_range', crop_ratio_range),
                                  ('aspect_ratio_range', aspect_ratio_range)):
            check_number(name, low, low=0.)
            check_number(name, high, low=0.)
            if low > high:
                raise ValueError(f'{name} must be (min, max), got '
                                 f'{(low, high)}')
        check_int('max_attempts', max_attempts, 0)
        if interpolation != 'bilinear' or backend != 'cv2':
            raise ValueError('the batch RandomResizedCrop resizes as cv2 '
                             "bilinear does (interpolation='bilinear', "
                             f"backend='cv2'), got {interpolation!r}, "
                             f'{backend!r}')
        self.crop_ratio_range = tuple(crop_ratio_range)
        self.aspect_ratio_range = tuple(aspect_ratio_range)
        self.max_attempts = max_attempts

    def central_crop(self, height: int, width: int) -> Tuple[int, ...]:
        """The fallback of mmpretrain: (top, left, h, w)."""
        ratio = width / height
        low, high = min(self.aspect_ratio_range), max(self.aspect_ratio_range)
        if ratio < low:
            crop_w, crop_h = width, int(round(width / low))
        elif ratio > high:
            crop_w, crop_h = int(round(height * high)), height
        else:
            crop_w, crop_h = width, height
        return (height - crop_h) // 2, (width - crop_w) // 2, crop_h, crop_w

    def draw(self, uniform: Uniform, size: Tuple[int, int]):
        """(B,) top, left, height and width of each crop."""
        height, width = size
        fallback = self.central_crop(height, width)
        attempts = self.max_attempts
        if attempts == 0:
            u = uniform(0)
            return tuple(
                torch.full((len(u), ), v, dtype=torch.long, device=u.device)
                for v in fallback)
        u = uniform(4 * attempts).double().view(-1, attempts, 4)
        low, high = self.crop_ratio_range
        area = (low + (high - low) * u[..., 0]) * (height * width)
        log_low, log_high = (math.log(r) for r in self.aspect_ratio_range)
        aspect = torch.exp(log_low + (log_high - log_low) * u[..., 1])
        crop_w = torch.round(torch.sqrt(area * aspect)).long()
        crop_h = torch.round(torch.sqrt(area / aspect)).long()
        fits = (crop_w > 0) & (crop_w <= width) & (crop_h > 0) & (
            crop_h <= height)
        first = fits.int().argmax(dim=1, keepdim=True)  # first that fits

        def pick(values):
            return values.gather(1, first)[:, 0]

        crop_h, crop_w = pick(crop_h), pick(crop_w)
        top = _uniform_int(pick(u[..., 2]), height - crop_h + 1)
        left = _uniform_int(pick(u[..., 3]), width - crop_w + 1)
        found = fits.any(dim=1)
        return tuple(
            torch.where(found, value, torch.full_like(value, default))
            for value, default in zip((top, left, crop_h, crop_w), fallback))

    def apply(self, images: torch.Tensor, params) -> torch.Tensor:
        top, left, crop_h, crop_w = params
        out_h, out_w = self.scale
        row0, row1, row_w0, row_w1 = _cv2_linear_taps(top, crop_h, out_h,
                                                      False)
        col0, col1, col_w0, col_w1 = _cv2_linear_taps(left, crop_w, out_w,
                                                      True)
        batch = torch.arange(len(images), device=images.device)[:, None]
        shape = (len(images), out_h, images.shape[1], out_w)

        def row_pass(rows):  # (B, out_h, C, out_w), scaled by COEF_SCALE
            pixels = images[batch, :, rows].int()  # (B, out_h, C, W)

            def tap(cols, weight):
                index = cols[:, None, None, :].expand(shape)
                return pixels.gather(3, index) * weight[:, None, None, :]

            return tap(col0, col_w0) + tap(col1, col_w1)

        # OpenCV's column pass: ((a >> 4) * w) >> 16 per tap, then
        # (sum + 2) >> 2, i.e. back to pixel units with its rounding.
        top_rows = ((row_pass(row0) >> 4) * row_w0[:, :, None, None]) >> 16
        low_rows = ((row_pass(row1) >> 4) * row_w1[:, :, None, None]) >> 16
        out = ((top_rows + low_rows + 2) >> 2).clamp_(0, 255)
        return out.to(torch.uint8).permute(0, 2, 1, 3)

    def __call__(self, images: torch.Tensor, uniform: Uniform):
        return self.apply(images, self.draw(uniform, images.shape[-2:]))


class BatchRandomFlip:
    """mmcv's ``RandomFlip`` on a batch: one of ``direction`` (a name or a
    list of ``'horizontal'``, ``'vertical'``, ``'diagonal'``) with
    probability ``prob`` (split evenly over a list) or ``prob[i]``, or no
    flip with the remaining probability."""

    def __init__(self,
                 prob: Union[float, Sequence[float]],
                 direction: Union[str, Sequence[str]] = 'horizontal'):
        directions = [direction] if isinstance(direction, str) else list(
            direction)
        for each in directions:
            check_choice('direction', each, FLIP_DIRECTIONS)
        if isinstance(prob, Sequence):
            if len(prob) != len(directions):
                raise ValueError(f'{len(prob)} probabilities for '
                                 f'{len(directions)} directions')
            probs = list(prob)
        else:
            check_number('prob', prob, low=0., high=1., low_inclusive=True)
            probs = [prob / len(directions)] * len(directions)
        for each in probs:
            check_number('prob', each, low=0., high=1., low_inclusive=True)
        if sum(probs) > 1 + 1e-9:
            raise ValueError(f'flip probabilities sum to {sum(probs)} > 1')
        self.directions = directions
        self.cumulative = [sum(probs[:i + 1]) for i in range(len(probs))]
        self.axes = [axis for axis, names in ((-1, ('horizontal', 'diagonal')),
                                              (-2, ('vertical', 'diagonal')))
                     if any(d in names for d in directions)]

    def draw(self, uniform: Uniform, size=None):
        """(B,) whether each sample is flipped horizontally, vertically."""
        u = uniform(1)[:, 0].double()
        choice = sum((u >= bound).long() for bound in self.cumulative)
        horizontal = torch.zeros_like(choice, dtype=torch.bool)
        vertical = torch.zeros_like(horizontal)
        for index, direction in enumerate(self.directions):
            if direction in ('horizontal', 'diagonal'):
                horizontal |= choice == index
            if direction in ('vertical', 'diagonal'):
                vertical |= choice == index
        return horizontal, vertical

    def apply(self, images: torch.Tensor, params) -> torch.Tensor:
        for axis, flip in zip((-1, -2), params):
            if axis in self.axes:
                images = torch.where(flip[:, None, None, None],
                                     images.flip(axis), images)
        return images

    def __call__(self, images: torch.Tensor, uniform: Uniform):
        return self.apply(images, self.draw(uniform))


BATCH_TRANSFORMS = dict(
    RandomCrop=BatchRandomCrop,
    RandomResizedCrop=BatchRandomResizedCrop,
    RandomFlip=BatchRandomFlip)


def build_batch_transform(cfg: dict):
    """A batch transform from an mmpretrain pipeline entry
    (``dict(type='RandomCrop', crop_size=32, padding=4)``)."""
    if not isinstance(cfg, dict) or 'type' not in cfg:
        raise TypeError(f'a batch transform is a dict with a `type`, got '
                        f'{cfg!r}')
    args = dict(cfg)
    name = args.pop('type')
    if name not in BATCH_TRANSFORMS:
        raise KeyError(f'no batch version of the transform {name!r}; '
                       f'available: {", ".join(BATCH_TRANSFORMS)}')
    try:
        return BATCH_TRANSFORMS[name](**args)
    except TypeError as error:
        raise TypeError(f'{name}: {error}') from None
