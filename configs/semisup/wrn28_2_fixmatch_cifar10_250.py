# FixMatch, WRN-28-2, CIFAR-10 with 250 labels (25 per class).
_base_ = ['./_base_/fixmatch_cifar.py']

train_dataloader = dict(
    dataset=dict(
        labeled_per_class=25,
        split_file='work_dirs/semi_splits/cifar10_250_seed0.json'))
