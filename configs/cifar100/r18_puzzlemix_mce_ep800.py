# CIFAR-100, ResNet-18 (CIFAR variant), 800 epochs, batch 100:
# PuzzleMix (alpha 1) + soft CE (MCE). See docs/configs.md
# PuzzleMix: the mixer's defaults, OpenMixup's mix_args.puzzlemix of
# configs/classification/cifar100/mixups/basic/r18_mixups_CE_none.py
# and the PuzzleMix authors' CIFAR-100 command (docs/configs.md).
_base_ = [
    '../_base_/models/resnet18_cifar.py',
    '../_base_/datasets/cifar100_bs100.py',
    '../_base_/schedules/cifar_sgd_ep800.py',
    '../_base_/default_runtime.py',
]
model = dict(
    mixer=dict(type='PuzzleMix', alpha=1.0),
    head=dict(
        type='LinearClsHead',
        num_classes=100,
        loss=dict(type='CrossEntropyLoss', use_soft=True)))
