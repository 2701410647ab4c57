# ImageNet-1k, DeiT-S, 300 epochs, batch 8x128, DeiT recipe: Mixup (alpha
# 0.8) or CutMix (alpha 1.0), picked with probability 0.5 each batch, and
# binary cross-entropy on the mixed scores (the BCE baseline of DM(BCE)).
# See docs/configs.md
_base_ = [
    '../_base_/models/deit_small.py',
    '../_base_/datasets/imagenet_bs128_deit.py',
    '../_base_/schedules/deit_adamw_ep300.py',
    '../_base_/default_runtime.py',
]
model = dict(
    mixer=[dict(type='Mixup', alpha=0.8),
           dict(type='CutMix', alpha=1.0)],
    mixer_probs=[0.5, 0.5],
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        loss=dict(type='CrossEntropyLoss', use_sigmoid=True)))
