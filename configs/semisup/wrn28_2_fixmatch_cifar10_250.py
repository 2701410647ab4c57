# FixMatch, WRN-28-2, CIFAR-10 with 250 labels (25 per class): FixMatch's
# CIFAR-10 setting (Sohn et al., NeurIPS 2020, Sec. 4 and its reference code
# fixmatch.py with --augment d.d.rac, the RandAugment variant): batch 64 + 7 x
# 64, 2^20 iterations, EMA 0.999 for evaluation. The labeled split is written
# to split_file and shared with the DMixMatch run of this setting.
_base_ = [
    './_base_/semisup_runtime.py', './_base_/cifar10_semisup.py',
    './_base_/fixmatch_wrn28.py'
]

max_iters = 2**20
train_cfg = dict(max_iters=max_iters)
param_scheduler = dict(T_max=max_iters)
train_dataloader = dict(
    dataset=dict(
        labeled_per_class=25,
        split_file='work_dirs/semi_splits/cifar10_250_seed0.json'))
