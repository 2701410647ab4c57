# DMixMatch, WRN-28-8, CIFAR-100 with 10,000 labels (100 per class):
# OpenMixup's configs/semisup/dmixmatch/cifar100/wrn28_8/
# wrn28_8_10k_bs64_7_cos_randaug_ema_p1.py (the config behind the DM paper's
# semi-supervised CIFAR-100 numbers): WRN-28-8, weight decay 1e-3, batch 64 +
# 7 x 64, 800 epochs of 111 iterations = 88,800 iterations, validation every
# 5 epochs. Differences: FixMatch's
# RandAugment + Cutout (OpenMixup's config draws 3 ops at full magnitude and a
# 4x4 Cutout with p 0.5), CIFAR-100's own normalisation (OpenMixup reuses
# CIFAR-10's), a class-balanced labeled split; see docs/semisup.md.
_base_ = [
    './_base_/semisup_runtime.py', './_base_/cifar100_semisup.py',
    './_base_/dmixmatch_wrn28.py'
]

model = dict(
    backbone=dict(widen_factor=8),
    head=dict(num_classes=100, in_channels=512))
optim_wrapper = dict(optimizer=dict(weight_decay=1e-3))
max_iters = 800 * 111
val_interval = 5 * 111
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
param_scheduler = dict(T_max=max_iters)
default_hooks = dict(checkpoint=dict(interval=val_interval))
train_dataloader = dict(
    dataset=dict(
        labeled_per_class=100,
        split_file='work_dirs/semi_splits/cifar100_10000_seed0.json'))
