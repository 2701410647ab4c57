# DMixMatch, WRN-28-2, CIFAR-10 JPEG copy, 250 labels, the 800-iteration CPU
# schedule of _base_/cifar10_jpeg_cpu.py. As for FixMatch, the averaging
# horizons are cut to the short run: batch-norm momentum 0.01 and a teacher
# momentum of 0.99 rising to 0.9999 (OpenMixup: 0.999 -> 0.99999 over 88,800
# iterations), i.e. 1 - m ten times larger.
_base_ = ['./_base_/cifar10_jpeg_cpu.py', './_base_/dmixmatch_wrn28.py']

model = dict(
    backbone=dict(norm_cfg=dict(type='BN', momentum=0.01)),
    ema_momentum=0.99,
    ema_end_momentum=0.9999)
param_scheduler = dict(T_max=800)
