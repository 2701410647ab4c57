from .atomic_checkpoint_hook import AtomicCheckpointHook
from .mixer_progress_hook import MixerProgressHook
from .non_finite_loss_hook import NonFiniteLossHook
from .num_classes_check_hook import NumClassesCheckHook
from .random_state_hook import RandomStateHook

__all__ = [
    'AtomicCheckpointHook', 'MixerProgressHook', 'NonFiniteLossHook',
    'NumClassesCheckHook', 'RandomStateHook'
]
