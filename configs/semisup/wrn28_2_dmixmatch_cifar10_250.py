# DMixMatch, WRN-28-2, CIFAR-10 with 250 labels (25 per class). OpenMixup
# publishes DMixMatch for CIFAR-100 only (wrn28_8_10k_bs64_7_cos_randaug_ema_p1
# .py); this is that config on CIFAR-10 with FixMatch's CIFAR-10 model and
# weight decay (WRN-28-2, 5e-4): batch 64 + 7 x 64, 800 OpenMixup epochs of
# 50,000 // 448 = 111 iterations = 88,800 iterations, validation every 5
# epochs (555 iterations). Same labeled split file as the FixMatch run.
_base_ = [
    './_base_/semisup_runtime.py', './_base_/cifar10_semisup.py',
    './_base_/dmixmatch_wrn28.py'
]

max_iters = 800 * 111
val_interval = 5 * 111
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
param_scheduler = dict(T_max=max_iters)
default_hooks = dict(checkpoint=dict(interval=val_interval))
train_dataloader = dict(
    dataset=dict(
        labeled_per_class=25,
        split_file='work_dirs/semi_splits/cifar10_250_seed0.json'))
