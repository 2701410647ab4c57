# CUB-200-2011, ResNeXt-50 32x4d (ImageNet-pretrained), 200 epochs, batch 16:
# PuzzleMix (alpha 1) + soft CE (MCE). See docs/configs.md
# PuzzleMix: OpenMixup's mix_args.puzzlemix (block_num=4, t_size=-1) of
# configs/classification/cub200/mixups/basic/r18_mixups_CE_none.py
# (docs/configs.md).
_base_ = [
    '../_base_/models/resnext50_in1k_pretrained.py',
    '../_base_/datasets/cub200_bs16.py',
    '../_base_/schedules/finetune_sgd_ep200.py',
    '../_base_/default_runtime.py',
]
model = dict(
    mixer=dict(
        type='PuzzleMix', alpha=1.0, block_nums=(2, 4, 8), t_grid=None),
    head=dict(
        type='LinearClsHead',
        num_classes=200,
        loss=dict(type='CrossEntropyLoss', use_soft=True)))
