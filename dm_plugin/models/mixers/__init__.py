from .base import BaseMixer, check_mixer_inputs, mix_scores
from .dynamic import *  # noqa: F401,F403
from .static import *  # noqa: F401,F403

__all__ = ['BaseMixer', 'check_mixer_inputs', 'mix_scores']
