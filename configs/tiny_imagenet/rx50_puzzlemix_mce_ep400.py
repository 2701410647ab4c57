# Tiny-ImageNet, ResNeXt-50 32x4d (CIFAR variant), 400 epochs, batch 100:
# PuzzleMix (alpha 1) + soft CE (MCE). See docs/configs.md
# PuzzleMix: the settings of OpenMixup's Tiny-ImageNet runs (mix_args.puzzlemix
# of configs/classification/tiny_imagenet/mixups/basic/r18_mixups_CE_none.py:
# block_num=4, i.e. g in {2, 4, 8}, t_size=-1, i.e. transport on the
# labeling grid, other values as on CIFAR), labeling by the PuzzleMix
# authors' alpha-beta swap graph cuts.
# The PuzzleMix paper's own Tiny-ImageNet runs (snu-mllab/PuzzleMix README,
# PreActResNet-18, 1200 epochs) draw g from {2, 4, 8, 16} and add
# --clean_lam 1: block_nums=(2, 4, 8, 16), clean_loss_weight=2.0 here
# (docs/fidelity.md).
_base_ = [
    '../_base_/models/resnext50_cifar.py',
    '../_base_/datasets/tiny_imagenet_bs100.py',
    '../_base_/schedules/tiny_imagenet_sgd_ep400.py',
    '../_base_/default_runtime.py',
]
model = dict(
    mixer=dict(
        type='PuzzleMix', alpha=1.0, block_nums=(2, 4, 8), t_grid=None),
    head=dict(
        type='LinearClsHead',
        num_classes=200,
        loss=dict(type='CrossEntropyLoss', use_soft=True)))
