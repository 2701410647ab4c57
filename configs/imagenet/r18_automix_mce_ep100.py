# ImageNet-1k, ResNet-18, 100 epochs, batch 4x64:
# AutoMix (alpha 2) + soft CE (MCE).
# AutoMix settings from OpenMixup (Westlake-AI/openmixup 37e1372)
# configs/classification/imagenet/automix/basic/r18_l2_a2_near_lam_cat_mb_mlr1e_3_bb_mlr0.py.
# See docs/configs.md.
_base_ = [
    '../_base_/models/resnet18.py',
    '../_base_/datasets/imagenet_bs64.py',
    '../_base_/schedules/imagenet_sgd_ep100.py',
    '../_base_/default_runtime.py',
]
model = dict(
    mixer=dict(type='AutoMix', alpha=2.0, in_channels=256, lam_concat=True,
        end_momentum=0.99999, mask_loss_anneal='cosine'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        loss=dict(type='CrossEntropyLoss', use_soft=True)))
# Mix Block: own param group, lr 0.1 -> 1e-3; the rest 0.1 -> 0 (OpenMixup
# paramwise_options, addtional_scheduler, lr_config).
optim_wrapper = dict(paramwise_cfg=dict(
    custom_keys={'mix_block': dict(eta_min=1e-3)}))
param_scheduler = dict(
    type='GroupCosineAnnealingLR', by_epoch=True, eta_min=0.)
