from .cutmix import CutMix
from .fmix import FMix
from .gridmix import GridMix
from .manifoldmix import ManifoldMix
from .masks import box_mask, mix_with_mask
from .mixup import Mixup
from .resizemix import ResizeMix
from .saliencymix import SaliencyMix
from .smoothmix import SmoothMix

__all__ = [
    'Mixup', 'CutMix', 'ResizeMix', 'FMix', 'GridMix', 'SaliencyMix',
    'SmoothMix', 'ManifoldMix', 'box_mask', 'mix_with_mask'
]
