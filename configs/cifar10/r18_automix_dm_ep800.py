# CIFAR-10, ResNet-18 (CIFAR variant), 800 epochs, batch 100:
# AutoMix (alpha 2) + DM(CE) (eta 0.1).
# AutoMix settings from OpenMixup (Westlake-AI/openmixup 37e1372)
# configs/classification/cifar100/automix/basic/r18/unsampling_modenearest/r18_l2_a2_near_L1_01_mlr5e_2_ep800.py
# (OpenMixup has no CIFAR-10 AutoMix config). See docs/configs.md.
_base_ = [
    '../_base_/models/resnet18_cifar.py',
    '../_base_/datasets/cifar10_bs100.py',
    '../_base_/schedules/cifar_sgd_ep800.py',
    '../_base_/default_runtime.py',
]
model = dict(
    mixer=dict(type='AutoMix', alpha=2.0, in_channels=256),
    head=dict(num_classes=10, loss=dict(type='DecoupledMixupLoss', eta=0.1)))
# OpenMixup anneals every parameter (Mix Block included, one param group) to
# min_lr 0.05, not 0.
param_scheduler = dict(type='CosineAnnealingLR', by_epoch=True, eta_min=0.05)
