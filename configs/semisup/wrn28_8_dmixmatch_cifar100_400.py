# DMixMatch, WRN-28-8, CIFAR-100 with 400 labels (4 per class); otherwise as
# wrn28_8_dmixmatch_cifar100_10000.py (OpenMixup's DMixMatch CIFAR-100 config,
# published for 10,000 labels only).
_base_ = ['./wrn28_8_dmixmatch_cifar100_10000.py']

train_dataloader = dict(
    dataset=dict(
        labeled_per_class=4,
        split_file='work_dirs/semi_splits/cifar100_400_seed0.json'))
