"""Name unknown mixer and loss types in a model config, with the choices."""
import difflib
from typing import List

from mmpretrain.registry import BATCH_AUGMENTS, MODELS

from dm_plugin.registry import MIXERS


def registered_names(kind: str) -> List[str]:
    """The names a config may use for a ``kind``: ``'mixer'`` (dm-plugin's
    mixers), ``'augments'`` (mmpretrain's batch augments and dm-plugin's,
    scoped) or ``'loss'`` (every registered ``*Loss``)."""
    if kind == 'mixer':
        return sorted(MIXERS.module_dict)
    if kind == 'augments':
        return sorted([*BATCH_AUGMENTS.module_dict,
                       *(f'dm_plugin.{name}' for name in MIXERS.module_dict)])
    return sorted(name for name in MODELS.module_dict
                  if name.endswith('Loss'))


def kind_of(key: str):
    """What a config key holds: ``'mixer'``, ``'augments'``, ``'loss'``
    (``loss``, ``loss_cls``, ...) or ``None`` for anything else."""
    if key in ('mixer', 'augments'):
        return key
    if key == 'loss' or key.startswith('loss_'):
        return 'loss'
    return None


def find_type(kind: str, name: str):
    if kind == 'mixer':
        return MIXERS.get(name)
    if kind == 'augments':
        return BATCH_AUGMENTS.get(name)
    return MODELS.get(name)


def check_model_types(cfg, path: str = 'model') -> None:
    """Raise a ``KeyError`` for a mixer, batch augment or loss ``type`` in
    the model config ``cfg`` that is not registered, naming where it is in
    the config and listing the registered ones (mmengine would only say it
    is not in the registry, once the model is being built).

    Args:
        cfg (dict): The model config (``cfg.model``).
        path (str): Where ``cfg`` is, for the message.
    """
    items = cfg.items() if isinstance(cfg, dict) else enumerate(cfg)
    for key, value in items:
        where = f'{path}.{key}' if isinstance(cfg, dict) else f'{path}[{key}]'
        kind = kind_of(key) if isinstance(key, str) else None
        if kind is not None and isinstance(value, (list, tuple)):
            for i, entry in enumerate(value):
                check_entry(kind, entry, f'{where}[{i}]')
        elif kind is not None:
            check_entry(kind, value, where)
        if isinstance(value, (dict, list, tuple)):
            check_model_types(value, where)


def check_entry(kind: str, entry, where: str) -> None:
    """Raise unless ``entry``'s string ``type`` is registered for ``kind``."""
    name = entry.get('type') if isinstance(entry, dict) else None
    if not isinstance(name, str) or find_type(kind, name) is not None:
        return
    choices = registered_names(kind)
    close = difflib.get_close_matches(name, choices, n=1)
    hint = f' Did you mean {close[0]!r}?' if close else ''
    raise KeyError(f'unknown {kind} {name!r} at {where}.{hint} Available: '
                   f'{", ".join(choices)}')
