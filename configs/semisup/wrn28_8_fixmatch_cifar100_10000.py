# FixMatch, WRN-28-8, CIFAR-100 with 10000 labels (100 per class).
_base_ = ['./_base_/fixmatch_cifar100.py']

train_dataloader = dict(
    dataset=dict(
        labeled_per_class=100,
        split_file='work_dirs/semi_splits/cifar100_10000_seed0.json'))
