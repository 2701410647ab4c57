# FixMatch, ImageNet-pretrained ResNet-50, CUB-200-2011 with 50% of each class
# labeled.
_base_ = ['./_base_/fixmatch_cub.py']

train_dataloader = dict(
    dataset=dict(
        labeled_ratio=0.5,
        split_file='work_dirs/semi_splits/cub_50pct_seed0.json'))
