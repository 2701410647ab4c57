# Stanford Cars, ResNet-18 (ImageNet-pretrained), 200 epochs, batch 16:
# GridMix (alpha 0.2) + soft CE (MCE). See docs/configs.md
_base_ = [
    '../_base_/models/resnet18_in1k_pretrained.py',
    '../_base_/datasets/stanford_cars_bs16.py',
    '../_base_/schedules/finetune_sgd_ep200.py',
    '../_base_/default_runtime.py',
]
model = dict(
    mixer=dict(type='GridMix', alpha=0.2),
    head=dict(
        type='LinearClsHead',
        num_classes=196,
        loss=dict(type='CrossEntropyLoss', use_soft=True)))
