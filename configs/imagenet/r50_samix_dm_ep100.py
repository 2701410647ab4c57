# ImageNet-1k, ResNet-50, 100 epochs, batch 4x64:
# SAMix (alpha 2) + DM(CE) (eta 0.1, both classes, λ-weighted:
# the defaults of OpenMixup's decouple configs, which have no DM run
# for this mixer).
# SAMix settings from OpenMixup (Westlake-AI/openmixup 37e1372)
# configs/classification/imagenet/samix/basic/r50/unsampling_modebilinear/r50_l2_a2_bili_val_dp01_mul_mb_mlr1e_3_m0_bb_mlr0_4xb64_ep100.py.
# See docs/configs.md.
_base_ = [
    '../_base_/models/resnet50.py',
    '../_base_/datasets/imagenet_bs64.py',
    '../_base_/schedules/imagenet_sgd_ep100.py',
    '../_base_/default_runtime.py',
]
model = dict(
    mixer=dict(type='SAMix', alpha=2.0, in_channels=1024, lam_rescale_k=None,
        value_dropout=0.1, mask_adjust=0., end_momentum=0.99999,
        mask_loss_anneal='cosine'),
    head=dict(num_classes=1000, loss=dict(type='DecoupledMixupLoss', eta=0.1)))
# Mix Block: own param group, lr 0.1 -> 1e-3 without SGD momentum; the rest 0.1
# -> 0 (OpenMixup paramwise_options, addtional_scheduler, lr_config).
optim_wrapper = dict(paramwise_cfg=dict(
    custom_keys={'mix_block': dict(eta_min=1e-3, momentum=0.)}))
param_scheduler = dict(
    type='GroupCosineAnnealingLR', by_epoch=True, eta_min=0.)
