"""Argument checks shared by losses and mixers: errors name the argument."""
import math
from numbers import Integral, Real
from typing import Optional

import torch


def check_number(name: str,
                 value,
                 low: Optional[float] = None,
                 high: Optional[float] = None,
                 low_inclusive: bool = False) -> None:
    """Raise naming ``name`` unless ``value`` is a finite real in range.

    The range is ``(low, high]`` (``[low, high]`` with ``low_inclusive``);
    either bound may be left out.
    """
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f'{name} must be a real number, got {value!r}')
    if not math.isfinite(value):
        raise ValueError(f'{name} must be finite, got {value}')
    if low is not None and (value < low or
                            (value == low and not low_inclusive)):
        bound = '>=' if low_inclusive else '>'
        raise ValueError(f'{name} must be {bound} {low}, got {value}')
    if high is not None and value > high:
        raise ValueError(f'{name} must be <= {high}, got {value}')


def check_int(name: str, value, low: int) -> None:
    """Raise naming ``name`` unless ``value`` is an integer ``>= low``
    (Python or numpy; not a bool)."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f'{name} must be an integer, got {value!r}')
    check_number(name, value, low=low, low_inclusive=True)


def check_choice(name: str, value, choices) -> None:
    """Raise naming ``name`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f'unknown {name} {value!r}; expected one of '
                         f'{tuple(choices)}')


def values_checkable(*tensors: torch.Tensor) -> bool:
    """Whether checking tensor values is free: eager mode, host memory.

    On an accelerator a value check blocks on the device (a host sync), and
    under ``torch.compile`` it breaks the graph; there only shapes are
    checked, and non-finite losses are caught where the logger syncs anyway.
    """
    if torch.compiler.is_compiling():
        return False
    return all(t.device.type == 'cpu' for t in tensors)
