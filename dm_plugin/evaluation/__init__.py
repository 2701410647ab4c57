"""Metrics registered in mmpretrain's METRICS."""
from .ece import (ECE, calibration_bins, expected_calibration_error,
                  top1_confidence)

__all__ = [
    'ECE', 'calibration_bins', 'expected_calibration_error', 'top1_confidence'
]
