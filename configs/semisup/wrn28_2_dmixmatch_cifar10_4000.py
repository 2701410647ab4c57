# DMixMatch, WRN-28-2, CIFAR-10 with 4,000 labels (400 per class); otherwise
# as wrn28_2_dmixmatch_cifar10_250.py (OpenMixup's DMixMatch CIFAR-100 config
# with FixMatch's CIFAR-10 model).
_base_ = ['./wrn28_2_dmixmatch_cifar10_250.py']

train_dataloader = dict(
    dataset=dict(
        labeled_per_class=400,
        split_file='work_dirs/semi_splits/cifar10_4000_seed0.json'))
