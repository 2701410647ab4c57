# ImageNet-1k, ResNet-50, 100 epochs, batch 4x64:
# PuzzleMix (alpha 1) + DM(CE) (eta 0.1). See docs/configs.md
# PuzzleMix: OpenMixup's mix_args.puzzlemix (block_num=4, t_size=-1) of
# configs/classification/imagenet/mixups/basic/r50_mixups_CE_none_4xb64.py
# (docs/configs.md).
_base_ = [
    '../_base_/models/resnet50.py',
    '../_base_/datasets/imagenet_bs64.py',
    '../_base_/schedules/imagenet_sgd_ep100.py',
    '../_base_/default_runtime.py',
]
model = dict(
    mixer=dict(
        type='PuzzleMix', alpha=1.0, block_nums=(2, 4, 8), t_grid=None),
    head=dict(num_classes=1000, loss=dict(type='DecoupledMixupLoss', eta=0.1)))
