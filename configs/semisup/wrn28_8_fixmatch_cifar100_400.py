# FixMatch, WRN-28-8, CIFAR-100 with 400 labels (4 per class); otherwise as
# wrn28_8_fixmatch_cifar100_10000.py (FixMatch's CIFAR-100 setting).
_base_ = ['./wrn28_8_fixmatch_cifar100_10000.py']

train_dataloader = dict(
    dataset=dict(
        labeled_per_class=4,
        split_file='work_dirs/semi_splits/cifar100_400_seed0.json'))
