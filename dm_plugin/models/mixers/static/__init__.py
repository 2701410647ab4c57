from .cutmix import CutMix, box_mask
from .mixup import Mixup

__all__ = ['Mixup', 'CutMix', 'box_mask']
