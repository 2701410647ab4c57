# ImageNet-1k, DeiT-S, 300 epochs, batch 8x128, DeiT recipe: Mixup (alpha
# 0.8) or CutMix (alpha 1.0), picked with probability 0.5 each batch, and
# DM(BCE): BCE against the mixed classes' scores rescaled to
# (s / xi) ** power (1 where s >= xi), with xi 1 and power 0.5.
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
        num_classes=1000,
        loss=dict(type='DecoupledMixupLoss', mode='bce', xi=1.0, power=0.5)))
