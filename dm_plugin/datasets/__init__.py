from .cifar import CheckedCIFAR10, CheckedCIFAR100
from .class_balanced_subset import ClassBalancedSubset
from .digits import DigitsDataset
from .fgvc_aircraft import FGVCAircraftDataset
from .semi_supervised import SemiSupervisedDataset, semi_supervised_collate
from .stanford_cars import StanfordCarsDataset
from .tiny_imagenet import TinyImageNetDataset
from .transforms import SafeLoadImageFromFile

__all__ = [
    'CheckedCIFAR10', 'CheckedCIFAR100', 'ClassBalancedSubset',
    'DigitsDataset', 'FGVCAircraftDataset', 'SafeLoadImageFromFile',
    'SemiSupervisedDataset', 'StanfordCarsDataset', 'TinyImageNetDataset',
    'semi_supervised_collate'
]
