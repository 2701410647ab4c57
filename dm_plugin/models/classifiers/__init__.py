from .mixup_classifier import MixupClassifier
from .semi_dm_classifier import SemiDMClassifier

__all__ = ['MixupClassifier', 'SemiDMClassifier']
