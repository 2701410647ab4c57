# CUB-200-2011, ResNeXt-50 32x4d (ImageNet-pretrained), 200 epochs, batch 16:
# AutoMix (alpha 2) + DM(CE) (eta 0.1).
# AutoMix settings from OpenMixup (Westlake-AI/openmixup 37e1372)
# configs/classification/cub200/automix/rx50_l2_a2_near_lam_cat_mb_mlr5e_4_1xb16_ep200.py.
# See docs/configs.md.
_base_ = [
    '../_base_/models/resnext50_in1k_pretrained.py',
    '../_base_/datasets/cub200_bs16.py',
    '../_base_/schedules/finetune_sgd_ep200.py',
    '../_base_/default_runtime.py',
]
model = dict(
    mixer=dict(type='AutoMix', alpha=2.0, in_channels=1024, lam_concat=True,
        end_momentum=0.99999, mask_loss_anneal='cosine',
        shuffle_no_repeat=True, mask_loss_mode='L1+Variance'),
    head=dict(num_classes=200, loss=dict(type='DecoupledMixupLoss', eta=0.1)))
# Mix Block: own param group, lr 0.01 -> 5e-4; the rest 1e-3 -> 0 (OpenMixup
# paramwise_options, addtional_scheduler, lr_config).
optim_wrapper = dict(paramwise_cfg=dict(
    custom_keys={'mix_block': dict(lr_mult=10., eta_min=5e-4)}))
param_scheduler = dict(
    type='GroupCosineAnnealingLR', by_epoch=True, eta_min=0.)
