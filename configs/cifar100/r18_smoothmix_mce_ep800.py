# CIFAR-100, ResNet-18 (CIFAR variant), 800 epochs, batch 100:
# SmoothMix (alpha 0.2) + soft CE (MCE). See docs/configs.md
_base_ = [
    '../_base_/models/resnet18_cifar.py',
    '../_base_/datasets/cifar100_bs100.py',
    '../_base_/schedules/cifar_sgd_ep800.py',
    '../_base_/default_runtime.py',
]
model = dict(
    mixer=dict(type='SmoothMix', alpha=0.2),
    head=dict(
        type='LinearClsHead',
        num_classes=100,
        loss=dict(type='CrossEntropyLoss', use_soft=True)))
