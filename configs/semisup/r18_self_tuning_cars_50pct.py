# Self-Tuning, ImageNet-pretrained ResNet-18, Stanford Cars with 50% of each
# class labeled: OpenMixup's configs/semisup/selftuning/cars/r18/
# r18_per_50_bs24_cos_no_randaug.py (160 epochs). The labeled split is
# written to split_file and shared with the DMixTuning run.
_base_ = ['./_base_/cars_semisup.py', './_base_/self_tuning_r18.py']

model = dict(head=dict(num_classes=196))
max_epochs = 160
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = dict(T_max=max_epochs)
train_dataloader = dict(
    dataset=dict(
        labeled_ratio=0.5,
        split_file='work_dirs/semi_splits/cars_50pct_seed0.json'))
