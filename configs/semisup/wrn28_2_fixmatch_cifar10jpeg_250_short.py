# FixMatch, WRN-28-2, CIFAR-10 JPEG copy, 250 labels, short schedule.
_base_ = ['./_base_/fixmatch_cifar10_jpeg.py']

train_dataloader = dict(
    dataset=dict(
        labeled_per_class=25,
        split_file='work_dirs/semi_splits/cifar10jpeg_250_seed0.json'))
