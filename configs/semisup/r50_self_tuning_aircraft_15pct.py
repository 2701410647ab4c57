# Self-Tuning, ImageNet-pretrained ResNet-50, FGVC-Aircraft with 15% of each
# class labeled: OpenMixup's configs/semisup/selftuning/aircrafts/r50/
# r50_per_15_bs24_cos_no_randaug.py (120 epochs). The labeled split is
# written to split_file and shared with the DMixTuning run.
_base_ = ['./_base_/aircraft_semisup.py', './_base_/self_tuning_r50.py']

model = dict(head=dict(num_classes=100))
max_epochs = 120
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = dict(T_max=max_epochs)
train_dataloader = dict(
    dataset=dict(
        labeled_ratio=0.15,
        split_file='work_dirs/semi_splits/aircraft_15pct_seed0.json'))
