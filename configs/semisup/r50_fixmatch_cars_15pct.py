# FixMatch, ImageNet-pretrained ResNet-50, Stanford Cars with 15% of each class
# labeled.
_base_ = ['./_base_/fixmatch_cars.py']

train_dataloader = dict(
    dataset=dict(
        labeled_ratio=0.15,
        split_file='work_dirs/semi_splits/cars_15pct_seed0.json'))
