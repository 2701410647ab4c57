# Tiny-ImageNet, ResNet-18 (CIFAR variant), 400 epochs, batch 100:
# SAMix (alpha 2) + DM(CE) (eta 0.1, both classes, λ-weighted:
# the defaults of OpenMixup's decouple configs, which have no DM run
# for this mixer).
# SAMix settings from OpenMixup (Westlake-AI/openmixup 37e1372)
# configs/classification/tiny_imagenet/samix/basic/r18/unsampling_modebilinear/r18_l2_a2_bili_val_dp0_mul_mb_mlr1e_3_bb_mlr5e_2_ep400.py.
# See docs/configs.md.
_base_ = [
    '../_base_/models/resnet18_cifar.py',
    '../_base_/datasets/tiny_imagenet_bs100.py',
    '../_base_/schedules/tiny_imagenet_sgd_ep400.py',
    '../_base_/default_runtime.py',
]
model = dict(
    mixer=dict(type='SAMix', alpha=2.0, in_channels=256, lam_rescale_k=None,
        mask_adjust=0.),
    head=dict(num_classes=200, loss=dict(type='DecoupledMixupLoss', eta=0.1)))
# Mix Block: own param group, lr 0.1 -> 1e-3; the rest 0.2 -> 0.05 (OpenMixup
# paramwise_options, addtional_scheduler, lr_config min_lr).
optim_wrapper = dict(paramwise_cfg=dict(
    custom_keys={'mix_block': dict(lr_mult=0.5, eta_min=1e-3)}))
param_scheduler = dict(
    type='GroupCosineAnnealingLR', by_epoch=True, eta_min=0.05)
