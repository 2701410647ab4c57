# ImageNet-1k, ResNet-18, 100 epochs, batch 4x64:
# PuzzleMix (alpha 1) + DM(CE) (eta 0.1). See docs/configs.md
# PuzzleMix: the settings of OpenMixup's ImageNet runs (mix_args.puzzlemix
# of configs/classification/imagenet/mixups/basic/r50_mixups_CE_none_4xb64.py:
# block_num=4, i.e. g in {2, 4, 8}, t_size=-1, i.e. transport on the
# labeling grid, other values as on CIFAR), labeling by the PuzzleMix
# authors' alpha-beta swap graph cuts.
_base_ = [
    '../_base_/models/resnet18.py',
    '../_base_/datasets/imagenet_bs64.py',
    '../_base_/schedules/imagenet_sgd_ep100.py',
    '../_base_/default_runtime.py',
]
model = dict(
    mixer=dict(
        type='PuzzleMix', alpha=1.0, block_nums=(2, 4, 8), t_grid=None),
    head=dict(num_classes=1000, loss=dict(type='DecoupledMixupLoss', eta=0.1)))
