"""dm-plugin: Decoupled Mixup and a zoo of mixup policies for MMPretrain.

Importing the package registers everything (configs use
``custom_imports=dict(imports=['dm_plugin'])``).
"""
from .environment import check_mmcv, quiet_known_warnings

quiet_known_warnings()
check_mmcv()

from . import datasets, engine, evaluation, models  # noqa: E402,F401
from .datasets import stock_loading  # noqa: E402,F401  (named image errors)
from .registry import MIXERS  # noqa: E402
from .version import __version__  # noqa: E402

__all__ = ['MIXERS', '__version__']
