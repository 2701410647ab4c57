# ImageNet-1k, ResNet-18, 100 epochs, batch 4x64:
# CutMix (alpha 0.2) + soft CE (MCE). See docs/configs.md
_base_ = [
    '../_base_/models/resnet18.py',
    '../_base_/datasets/imagenet_bs64.py',
    '../_base_/schedules/imagenet_sgd_ep100.py',
    '../_base_/default_runtime.py',
]
model = dict(
    mixer=dict(type='CutMix', alpha=0.2),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        loss=dict(type='CrossEntropyLoss', use_soft=True)))
