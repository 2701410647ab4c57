# FixMatch, ImageNet-pretrained ResNet-50, Stanford Cars with 50% of each class
# labeled.
_base_ = ['./_base_/fixmatch_cars.py']

train_dataloader = dict(
    dataset=dict(
        labeled_ratio=0.5,
        split_file='work_dirs/semi_splits/cars_50pct_seed0.json'))
