from .dmix_tuning import DMixTuning
from .dmixmatch import DMixMatch
from .fixmatch import FixMatch
from .mixup_classifier import MixupClassifier
from .self_tuning import SelfTuning

__all__ = [
    'DMixMatch', 'DMixTuning', 'FixMatch', 'MixupClassifier', 'SelfTuning'
]
