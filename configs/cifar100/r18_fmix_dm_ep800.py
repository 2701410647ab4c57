# CIFAR-100, ResNet-18 (CIFAR variant), 800 epochs, batch 100:
# FMix (alpha 0.2) + DM(CE) (eta 0.01, minor class, two-hot), as
# OpenMixup's configs/classification/cifar100/mixups/decouple/
#   r18/r18_fmix_CE_soft_decouple_a0_2_ep800.py. See docs/configs.md
_base_ = [
    '../_base_/models/resnet18_cifar.py',
    '../_base_/datasets/cifar100_bs100.py',
    '../_base_/schedules/cifar_sgd_ep800.py',
    '../_base_/default_runtime.py',
]
model = dict(
    mixer=dict(type='FMix', alpha=0.2),
    head=dict(
        num_classes=100,
        loss=dict(
            type='DecoupledMixupLoss',
            eta=0.01,
            decouple='minor',
            lam_power=0.0)))
