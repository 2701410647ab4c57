# CIFAR-100, ResNeXt-50 32x4d (CIFAR variant), 800 epochs, batch 100:
# SAMix (alpha 2) + DM(CE) (eta 0.1, both classes, λ-weighted:
# the defaults of OpenMixup's decouple configs, which have no DM run
# for this mixer).
# SAMix settings from OpenMixup (Westlake-AI/openmixup 37e1372)
# configs/classification/cifar100/samix/basic/rx50_l2_a2_bili_val_dp0_mul_x_cat_L1_var_01_mlr5e_2.py
# (400 epochs there). See docs/configs.md.
_base_ = [
    '../_base_/models/resnext50_cifar.py',
    '../_base_/datasets/cifar100_bs100.py',
    '../_base_/schedules/cifar_sgd_ep800.py',
    '../_base_/default_runtime.py',
]
model = dict(
    mixer=dict(type='SAMix', alpha=2.0, in_channels=1024, mask_adjust=0.),
    head=dict(num_classes=100, loss=dict(type='DecoupledMixupLoss', eta=0.1)))
# OpenMixup anneals every parameter (Mix Block included, one param group) to
# min_lr 0.05, not 0.
param_scheduler = dict(type='CosineAnnealingLR', by_epoch=True, eta_min=0.05)
