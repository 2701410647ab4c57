# FixMatch, WRN-28-2, CIFAR-10 with 40 labels (4 per class).
_base_ = ['./_base_/fixmatch_cifar.py']

train_dataloader = dict(
    dataset=dict(
        labeled_per_class=4,
        split_file='work_dirs/semi_splits/cifar10_40_seed0.json'))
