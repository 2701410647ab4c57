"""dm-plugin: Decoupled Mixup and a zoo of mixup policies for MMPretrain.

Importing the package registers everything (configs use
``custom_imports=dict(imports=['dm_plugin'])``).
"""
from . import datasets, engine, evaluation, models  # noqa: F401
from .datasets import stock_loading  # noqa: F401  (named image errors)
from .registry import MIXERS
from .version import __version__

__all__ = ['MIXERS', '__version__']
