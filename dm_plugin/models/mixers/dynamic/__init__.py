"""Dynamic mixers: they use the classifier to build the mixed samples."""
from .attentivemix import AttentiveMix
from .automix import AutoMix, MixBlock
from .puzzlemix import PuzzleMix

__all__ = ['PuzzleMix', 'AttentiveMix', 'AutoMix', 'MixBlock']
