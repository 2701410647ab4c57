# Self-Tuning, ImageNet-pretrained ResNet-18, FGVC-Aircraft with 30% of each
# class labeled: OpenMixup's configs/semisup/selftuning/aircrafts/r18/
# r18_per_30_bs24_cos_no_randaug.py (150 epochs). The labeled split is
# written to split_file and shared with the DMixTuning run.
_base_ = ['./_base_/aircraft_semisup.py', './_base_/self_tuning_r18.py']

model = dict(head=dict(num_classes=100))
max_epochs = 150
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = dict(T_max=max_epochs)
train_dataloader = dict(
    dataset=dict(
        labeled_ratio=0.3,
        split_file='work_dirs/semi_splits/aircraft_30pct_seed0.json'))
