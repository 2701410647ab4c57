from .checkpoint import (CorruptCheckpointError, UnsafeCheckpointError,
                         load_checkpoint_file, register_safe_loaders)
from .config_check import (CfgOptionsAction, check_dataset_indices,
                           check_model_types)
from .distributed import close_distributed, prepare_cpu_distributed
from .hooks import *  # noqa: F401,F403
from .runner import DMRunner, build_runner
from .runner_checks import install_runner_checks
from .schedulers import GroupCosineAnnealingLR
from .skip_non_finite_optim_wrapper import SkipNonFiniteOptimWrapper

register_safe_loaders()
install_runner_checks()

__all__ = [
    'CorruptCheckpointError', 'UnsafeCheckpointError', 'load_checkpoint_file',
    'register_safe_loaders', 'prepare_cpu_distributed', 'close_distributed',
    'check_model_types', 'check_dataset_indices', 'CfgOptionsAction',
    'DMRunner', 'build_runner', 'install_runner_checks',
    'SkipNonFiniteOptimWrapper', 'GroupCosineAnnealingLR'
]
