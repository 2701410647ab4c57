# Self-Tuning, ImageNet-pretrained ResNet-18, CUB-200-2011 with 15% of each
# class labeled: OpenMixup's configs/semisup/selftuning/cub200/r18/
# r18_per_15_bs24_cos_no_randaug.py (130 epochs). The labeled split is
# written to split_file and shared with the DMixTuning run.
_base_ = ['./_base_/cub_semisup.py', './_base_/self_tuning_r18.py']

max_epochs = 130
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = dict(T_max=max_epochs)
train_dataloader = dict(
    dataset=dict(
        labeled_ratio=0.15,
        split_file='work_dirs/semi_splits/cub_15pct_seed0.json'))
