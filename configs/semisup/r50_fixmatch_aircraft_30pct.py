# FixMatch, ImageNet-pretrained ResNet-50, FGVC-Aircraft with 30% of each class
# labeled.
_base_ = ['./_base_/fixmatch_aircraft.py']

train_dataloader = dict(
    dataset=dict(
        labeled_ratio=0.30,
        split_file='work_dirs/semi_splits/aircraft_30pct_seed0.json'))
