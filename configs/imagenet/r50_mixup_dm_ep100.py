# ImageNet-1k, ResNet-50, 100 epochs, batch 4x64:
# Mixup (alpha 1) + DM(CE) (eta 0.1, both classes, λ-weighted), as
# OpenMixup's configs/classification/imagenet/mixups/decouple/
#   r50_mixups_CE_soft_decouple_4xb64.py. See docs/configs.md
_base_ = [
    '../_base_/models/resnet50.py',
    '../_base_/datasets/imagenet_bs64.py',
    '../_base_/schedules/imagenet_sgd_ep100.py',
    '../_base_/default_runtime.py',
]
model = dict(
    mixer=dict(type='Mixup', alpha=1.0),
    head=dict(
        num_classes=1000,
        loss=dict(
            type='DecoupledMixupLoss',
            eta=0.1,
            decouple='both',
            lam_power=1.0)))
