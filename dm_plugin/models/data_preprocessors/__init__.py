from .batch_transform_preprocessor import BatchTransformPreprocessor
from .batch_transforms import (BatchRandomCrop, BatchRandomFlip,
                               BatchRandomResizedCrop, build_batch_transform)

__all__ = [
    'BatchRandomCrop', 'BatchRandomFlip', 'BatchRandomResizedCrop',
    'BatchTransformPreprocessor', 'build_batch_transform'
]
