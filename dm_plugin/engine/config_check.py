"""Checks of a config before anything is built: unknown mixer, batch-augment
and loss types named with the choices, dynamic mixers where they cannot
work, ``indices`` subsets, and ``--cfg-options`` values mmengine cannot
parse."""
import ast
import difflib
import warnings
from typing import Iterator, List, Optional, Tuple

from mmengine.config import DictAction
from mmpretrain.registry import BATCH_AUGMENTS, MODELS

from dm_plugin.registry import MIXERS

DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def static_mixer_names() -> List[str]:
    """dm-plugin's mixers that work on images and scores alone."""
    return sorted(name for name, cls in MIXERS.module_dict.items()
                  if not cls.needs_model)


def registered_names(kind: str) -> List[str]:
    """The names a config may use for a ``kind``: ``'mixer'`` (dm-plugin's
    mixers), ``'augments'`` (mmpretrain's batch augments and dm-plugin's
    static mixers, scoped) or ``'loss'`` (every registered ``*Loss``)."""
    if kind == 'mixer':
        return sorted(MIXERS.module_dict)
    if kind == 'augments':
        scoped = [f'dm_plugin.{name}' for name in static_mixer_names()]
        return sorted([*BATCH_AUGMENTS.module_dict, *scoped])
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
    """Raise for a mixer, batch augment or loss ``type`` in the model config
    ``cfg`` that cannot be built, naming where it is in the config and what
    to use instead (mmengine would only say it is not in the registry, once
    the model is being built, or fail at the first iteration):

    * ``KeyError`` for an unregistered type, listing the registered ones
      (for ``train_cfg.augments``: mmpretrain's batch augments and
      dm-plugin's static mixers under their scoped names);
    * ``ValueError`` for a mixer that needs the model (PuzzleMix, AutoMix,
      ...) in ``train_cfg.augments``, which calls it with images and scores
      only.

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
    """Raise unless ``entry``'s string ``type`` can be built for ``kind``."""
    name = entry.get('type') if isinstance(entry, dict) else None
    if not isinstance(name, str):
        return
    found = find_type(kind, name)
    if kind == 'augments' and getattr(found, 'needs_model', False):
        raise ValueError(
            f'{name!r} at {where} needs the model being trained, but '
            'train_cfg.augments calls a batch augment with images and scores '
            'only. Mix inside the model instead: model=dict(type='
            f"'MixupClassifier', ..., mixer=dict(type='{found.__name__}')); "
            'or use a static mixer here: '
            f'{", ".join(f"dm_plugin.{n}" for n in static_mixer_names())}')
    if found is not None:
        return
    raise KeyError(f'unknown {kind} {name!r} at {where}.'
                   f'{suggestion(kind, name)} Available: '
                   f'{", ".join(registered_names(kind))}')


def suggestion(kind: str, name: str) -> str:
    """`` Did you mean ...?`` for an unknown type name, or ``''``."""
    if kind == 'augments' and name in MIXERS.module_dict:
        if MIXERS.get(name).needs_model:
            return (f' {name} is a dm-plugin mixer that needs the model: '
                    "use it in model=dict(type='MixupClassifier', "
                    f"mixer=dict(type='{name}')).")
        return (f" dm-plugin's mixers take their scoped name in "
                f"train_cfg.augments: did you mean 'dm_plugin.{name}'?")
    close = difflib.get_close_matches(name, registered_names(kind), n=1)
    return f' Did you mean {close[0]!r}?' if close else ''


def dataset_configs(cfg) -> Iterator[Tuple[str, dict]]:
    """``(where, dataset config)`` of every dataloader's dataset, and of the
    datasets they wrap (``dataset=`` / ``datasets=[...]``)."""
    def walk(dataset, where):
        if not isinstance(dataset, dict):
            return
        yield where, dataset
        yield from walk(dataset.get('dataset'), f'{where}.dataset')
        for i, inner in enumerate(dataset.get('datasets') or []):
            yield from walk(inner, f'{where}.datasets[{i}]')

    for loader in DATALOADERS:
        loader_cfg = cfg.get(loader)
        if isinstance(loader_cfg, dict):
            yield from walk(loader_cfg.get('dataset'), f'{loader}.dataset')


def check_dataset_indices(cfg) -> List[str]:
    """Warn about datasets subset with an integer ``indices=N``: mmengine
    keeps the *first* N samples in file order, which in most datasets
    (ImageFolder trees, CUB, ...) are a few classes. Returns the warnings.
    """
    messages = []
    for where, dataset in dataset_configs(cfg):
        indices = dataset.get('indices')
        if isinstance(indices, int) and not isinstance(indices, bool):
            messages.append(
                f'{where}.indices={indices} keeps the first {indices} samples '
                "in the dataset's file order, often only a few classes. For "
                "a seeded, class-balanced subset use dict(type="
                "'ClassBalancedSubset', dataset=dict(...), per_class=K).")
    for message in messages:
        warnings.warn(message, UserWarning, stacklevel=2)
    return messages


def dict_option(key: str, value: str) -> Optional[str]:
    """For a ``KEY=dict(...)`` / ``KEY={...}`` option, the same setting as
    ``KEY.a=1 KEY.b=x`` options (literal values only), else ``None``."""
    try:
        node = ast.parse(value.strip(), mode='eval').body
        if isinstance(node, ast.Call) and getattr(node.func, 'id',
                                                  None) == 'dict':
            if node.args:
                return None
            entries = {kw.arg: ast.literal_eval(kw.value)
                       for kw in node.keywords}
        else:
            entries = ast.literal_eval(node)
    except (SyntaxError, ValueError, TypeError):
        return None
    if not isinstance(entries, dict) or not entries or None in entries:
        return None
    return ' '.join(f'{key}.{k}={v}' for k, v in entries.items())


class CfgOptionsAction(DictAction):
    """mmengine's ``--cfg-options`` parser, with a clear error where it
    cannot parse a value: a dict (``model.mixer=dict(type='FMix')`` ends in a
    ``RecursionError`` inside mmengine) or unbalanced brackets."""

    def __call__(self, parser, namespace, values, option_string=None):
        for option in values:
            key, _, value = option.partition('=')
            if value.lstrip().startswith(('dict(', '{')):
                keyed = dict_option(key, value) or f'{key}.KEY=VALUE ...'
                parser.error(
                    f'{option_string} cannot take a dict ({option}): set '
                    f'its keys one by one, e.g. {option_string} {keyed} (or '
                    'put the dict in a config file that inherits this one)')
        try:
            super().__call__(parser, namespace, values, option_string)
        except (RecursionError, AssertionError) as error:
            parser.error(f'{option_string} could not parse {values}: '
                         f'{str(error)[:200] or type(error).__name__}')
