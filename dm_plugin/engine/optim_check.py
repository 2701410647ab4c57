"""Name a bad optimizer number in a config before the optimizer is built."""
import inspect
import math
from numbers import Real

from mmpretrain.registry import OPTIMIZERS


def is_number(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def numeric_arguments(optimizer_type) -> dict:
    """``{argument: default}`` of the optimizer's numbers and tuples of
    numbers (``lr``, ``momentum``, ``betas``, ...); ``lr`` always."""
    cls = OPTIMIZERS.get(optimizer_type) if isinstance(
        optimizer_type, str) else optimizer_type
    if not inspect.isclass(cls):
        return {}
    numeric = {'lr': None}
    for name, parameter in inspect.signature(cls).parameters.items():
        default = parameter.default
        if is_number(default) or (isinstance(default, tuple) and default
                                  and all(map(is_number, default))):
            numeric[name] = default
    return numeric


def check_optimizer(optim_wrapper, path: str = 'optim_wrapper') -> None:
    """Raise naming the key when a number of ``optim_wrapper.optimizer`` is
    not a finite number (``--cfg-options optim_wrapper.optimizer.lr=abc``
    gives the string ``'abc'``, on which torch fails with ``TypeError: '<'
    not supported``; ``lr=nan`` would train NaN weights). Optimizers that
    are not registered are left to mmengine.

    Raises:
        TypeError: a string, bool or other non-number.
        ValueError: NaN or infinity, or a tuple of the wrong length.
    """
    optimizer = optim_wrapper.get('optimizer') if isinstance(
        optim_wrapper, dict) else None
    if not isinstance(optimizer, dict):
        return
    numeric = numeric_arguments(optimizer.get('type'))
    for name, default in numeric.items():
        if name not in optimizer:
            continue
        where, value = f'{path}.optimizer.{name}', optimizer[name]
        values = value if isinstance(default, tuple) else (value, )
        if isinstance(default, tuple) and (
                not isinstance(value, (tuple, list))
                or len(value) != len(default)):
            raise ValueError(f'{where} must be {len(default)} numbers like '
                             f'{default}, got {value!r}')
        for item in values:
            if not is_number(item):
                raise TypeError(f'{where} must be a number, got {value!r} '
                                f'({type(item).__name__})')
            if not math.isfinite(item):
                raise ValueError(f'{where} must be finite, got {value!r}')
