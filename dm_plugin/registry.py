"""Registries of dm-plugin.

``MIXERS`` is a child of mmpretrain's ``BATCH_AUGMENTS``: a mixer registered
here is found by :class:`MixupClassifier` under its plain name (``'Mixup'``),
and by mmpretrain's stock ``train_cfg.augments`` / ``RandomBatchAugment``
under its scoped name (``'dm_plugin.Mixup'``), because mmpretrain registers
batch augments of its own with some of the same names.

Models, datasets, hooks and metrics are registered straight into mmpretrain's
registries, so stock configs use them by plain name after
``custom_imports=dict(imports=['dm_plugin'])``.
"""
from mmengine.registry import Registry
from mmpretrain.registry import BATCH_AUGMENTS

MIXERS = Registry(
    'mixer',
    parent=BATCH_AUGMENTS,
    scope='dm_plugin',
    locations=['dm_plugin.models.mixers'])


def build_mixer(cfg: dict):
    """Build a mixer from ``MIXERS``, whatever the default scope is.

    ``Registry.build`` would switch to the runner's default scope
    (``mmpretrain``) and find mmpretrain's batch augment of the same name;
    this resolves the name in ``MIXERS`` first (then its parents) and names
    the available mixers when it is unknown.
    """
    if not isinstance(cfg, dict) or 'type' not in cfg:
        raise TypeError(f'a mixer config is a dict with a `type`, got {cfg!r}')
    args = dict(cfg)
    mixer_type = args.pop('type')
    mixer_cls = MIXERS.get(mixer_type) if isinstance(mixer_type,
                                                     str) else mixer_type
    if mixer_cls is None:
        raise KeyError(f'unknown mixer {mixer_type!r}; available mixers: '
                       f'{", ".join(sorted(MIXERS.module_dict))}')
    return mixer_cls(**args)
