# FixMatch, WRN-28-8, CIFAR-100 with 10,000 labels (100 per class):
# FixMatch's CIFAR-100 setting (Sohn et al., NeurIPS 2020: WRN-28-8, weight
# decay 1e-3, 2^20 iterations; reference code fixmatch.py, RandAugment
# variant). OpenMixup's FixMatch configs for this setting
# (configs/semisup/fixmatch/cifar100/wrn28_8/wrn28_8_*_ep2400.py) train 2,400
# epochs of 111 iterations with an EMA teacher; this follows the paper.
_base_ = [
    './_base_/semisup_runtime.py', './_base_/cifar100_semisup.py',
    './_base_/fixmatch_wrn28.py'
]

model = dict(
    backbone=dict(widen_factor=8),
    head=dict(num_classes=100, in_channels=512))
optim_wrapper = dict(optimizer=dict(weight_decay=1e-3))
max_iters = 2**20
train_cfg = dict(max_iters=max_iters)
param_scheduler = dict(T_max=max_iters)
train_dataloader = dict(
    dataset=dict(
        labeled_per_class=100,
        split_file='work_dirs/semi_splits/cifar100_10000_seed0.json'))
