# FixMatch, WRN-28-2, CIFAR-10 JPEG copy, 250 labels, the 800-iteration CPU
# schedule of _base_/cifar10_jpeg_cpu.py. FixMatch's EMA (0.999) and WRN
# batch-norm momentum (0.001) average over ~1,000 steps, which in an
# 800-step run would leave about 45% of the initial weights and statistics
# in the evaluated model; both horizons are cut to ~100 steps
# (EMA 0.99, BN momentum 0.01), the same for DMixMatch.
_base_ = ['./_base_/cifar10_jpeg_cpu.py', './_base_/fixmatch_wrn28.py']

model = dict(
    backbone=dict(norm_cfg=dict(type='BN', momentum=0.01)),
    ema_momentum=0.99)
param_scheduler = dict(T_max=800)
