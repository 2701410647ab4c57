# FixMatch, WRN-28-2, CIFAR-10 with 4000 labels (400 per class).
_base_ = ['./_base_/fixmatch_cifar.py']

train_dataloader = dict(
    dataset=dict(
        labeled_per_class=400,
        split_file='work_dirs/semi_splits/cifar10_4000_seed0.json'))
