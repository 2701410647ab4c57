from .checkpoint import (allow_mmengine_checkpoint_types,
                         mmengine_checkpoint_globals,
                         register_weights_only_loader)
from .config_check import (CfgOptionsAction, check_dataset_indices,
                           check_model_types)
from .distributed import close_distributed, prepare_cpu_distributed
from .hooks import *  # noqa: F401,F403
from .runner import DMRunner, build_runner
from .skip_non_finite_optim_wrapper import SkipNonFiniteOptimWrapper

allow_mmengine_checkpoint_types()
register_weights_only_loader()

__all__ = [
    'allow_mmengine_checkpoint_types', 'mmengine_checkpoint_globals',
    'prepare_cpu_distributed', 'close_distributed',
    'register_weights_only_loader', 'check_model_types',
    'check_dataset_indices', 'CfgOptionsAction', 'DMRunner', 'build_runner',
    'SkipNonFiniteOptimWrapper'
]
