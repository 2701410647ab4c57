# ImageNet-1k, ResNet-50, 100 epochs, batch 4x64:
# FMix (alpha 1) + soft CE (MCE). See docs/configs.md
_base_ = [
    '../_base_/models/resnet50.py',
    '../_base_/datasets/imagenet_bs64.py',
    '../_base_/schedules/imagenet_sgd_ep100.py',
    '../_base_/default_runtime.py',
]
model = dict(
    mixer=dict(type='FMix', alpha=1.0),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        loss=dict(type='CrossEntropyLoss', use_soft=True)))
