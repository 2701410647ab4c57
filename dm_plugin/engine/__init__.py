from .checkpoint import (allow_mmengine_checkpoint_types,
                         mmengine_checkpoint_globals)
from .distributed import close_distributed, prepare_cpu_distributed

allow_mmengine_checkpoint_types()

__all__ = [
    'allow_mmengine_checkpoint_types', 'mmengine_checkpoint_globals',
    'prepare_cpu_distributed', 'close_distributed'
]
