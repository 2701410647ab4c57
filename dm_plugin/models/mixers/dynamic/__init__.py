"""Dynamic mixers: they use the classifier to build the mixed samples."""
from .attentivemix import AttentiveMix
from .automix import AutoMix
from .mix_block import MixBlock, SAMixBlock
from .puzzlemix import PuzzleMix
from .samix import SAMix

__all__ = [
    'PuzzleMix', 'AttentiveMix', 'AutoMix', 'SAMix', 'MixBlock', 'SAMixBlock'
]
