from .checkpoint import (allow_mmengine_checkpoint_types,
                         mmengine_checkpoint_globals,
                         register_weights_only_loader)
from .config_check import check_model_types
from .distributed import close_distributed, prepare_cpu_distributed
from .hooks import *  # noqa: F401,F403
from .schedulers import GroupCosineAnnealingLR
from .skip_non_finite_optim_wrapper import SkipNonFiniteOptimWrapper

allow_mmengine_checkpoint_types()
register_weights_only_loader()

__all__ = [
    'allow_mmengine_checkpoint_types', 'mmengine_checkpoint_globals',
    'prepare_cpu_distributed', 'close_distributed',
    'register_weights_only_loader', 'check_model_types',
    'SkipNonFiniteOptimWrapper', 'GroupCosineAnnealingLR'
]
