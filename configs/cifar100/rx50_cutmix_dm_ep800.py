# CIFAR-100, ResNeXt-50 32x4d (CIFAR variant), 800 epochs, batch 100:
# CutMix (alpha 0.2) + DM(CE) (eta 0.1, both classes, λ-weighted), as
# OpenMixup's configs/classification/cifar100/mixups/decouple/
#   rx50/rx50_cutmix_CE_soft_decouple_a0_2_ep800.py. See docs/configs.md
_base_ = [
    '../_base_/models/resnext50_cifar.py',
    '../_base_/datasets/cifar100_bs100.py',
    '../_base_/schedules/cifar_sgd_ep800.py',
    '../_base_/default_runtime.py',
]
model = dict(
    mixer=dict(type='CutMix', alpha=0.2),
    head=dict(
        num_classes=100,
        loss=dict(
            type='DecoupledMixupLoss',
            eta=0.1,
            decouple='both',
            lam_power=1.0)))
# ResNeXt-50 with a cutting-based mixer: weight decay 5e-4 (authors' configs)
optim_wrapper = dict(optimizer=dict(weight_decay=0.0005))
