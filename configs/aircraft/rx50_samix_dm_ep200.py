# FGVC-Aircraft, ResNeXt-50 32x4d (ImageNet-pretrained), 200 epochs, batch 16:
# SAMix (alpha 2) + DM(CE) (eta 0.1, both classes, λ-weighted:
# the defaults of OpenMixup's decouple configs, which have no DM run
# for this mixer).
# SAMix settings from OpenMixup (Westlake-AI/openmixup 37e1372)
# configs/classification/aircrafts/samix/rx50_l2_a2_bili_val_dp01_mb_mlr5e_4_1xb16_ep200.py.
# See docs/configs.md.
_base_ = [
    '../_base_/models/resnext50_in1k_pretrained.py',
    '../_base_/datasets/aircraft_bs16.py',
    '../_base_/schedules/finetune_sgd_ep200.py',
    '../_base_/default_runtime.py',
]
model = dict(
    mixer=dict(type='SAMix', alpha=2.0, in_channels=1024, lam_rescale_k=1.,
        value_dropout=0.1, mask_adjust=0., shuffle_no_repeat=True,
        mask_loss_anneal='cosine', end_momentum=0.99996),
    head=dict(num_classes=100, loss=dict(type='DecoupledMixupLoss', eta=0.1)))
# Mix Block: own param group, lr 0.01 -> 5e-4; the rest 1e-3 -> 0 (OpenMixup
# paramwise_options, addtional_scheduler, lr_config).
optim_wrapper = dict(paramwise_cfg=dict(
    custom_keys={'mix_block': dict(lr_mult=10., eta_min=5e-4)}))
param_scheduler = dict(
    type='GroupCosineAnnealingLR', by_epoch=True, eta_min=0.)
