# FixMatch, ImageNet-pretrained ResNet-50, FGVC-Aircraft with 50% of each class
# labeled.
_base_ = ['./_base_/fixmatch_aircraft.py']

train_dataloader = dict(
    dataset=dict(
        labeled_ratio=0.5,
        split_file='work_dirs/semi_splits/aircraft_50pct_seed0.json'))
