from .cached_images import CachedImageDataset, cached_image_collate
from .cifar import CheckedCIFAR10, CheckedCIFAR100
from .class_balanced_subset import ClassBalancedSubset
from .digits import DigitsDataset
from .fgvc_aircraft import FGVCAircraftDataset
from .fixmatch_augment import FixMatchRandAugment
from .semi_supervised import (SemiSupervisedDataset, semi_supervised_collate,
                              split_semi_supervised_batch)
from .stanford_cars import StanfordCarsDataset
from .tiny_imagenet import TinyImageNetDataset
from .transforms import SafeLoadImageFromFile

__all__ = [
    'CachedImageDataset', 'CheckedCIFAR10', 'CheckedCIFAR100',
    'ClassBalancedSubset', 'DigitsDataset', 'FGVCAircraftDataset',
    'FixMatchRandAugment', 'SafeLoadImageFromFile', 'SemiSupervisedDataset',
    'StanfordCarsDataset', 'TinyImageNetDataset', 'cached_image_collate',
    'semi_supervised_collate', 'split_semi_supervised_batch'
]
