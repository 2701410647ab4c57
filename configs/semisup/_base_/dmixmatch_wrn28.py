# DMixMatch with WRN-28-2, as OpenMixup's only DMixMatch config
# (configs/semisup/dmixmatch/cifar100/wrn28_8/
# wrn28_8_10k_bs64_7_cos_randaug_ema_p1.py, a WRN-28-8) sets it up:
# threshold 0.95, lambda_u 1; pseudo-labels from an EMA teacher whose momentum
# is 0.999 for the first 10% of the run, then follows a cosine to 0.99999
# (CosineScheduleHook, adjust_scope [0.1, 1.0]); Mixup (alpha 1, lam biased to
# the labeled side) between labeled images (weight 1) and between each
# labeled image and its unlabeled partner (weight ramped 0 -> 1 as
# OpenMixup's CustomCosineAnnealingHook computes it; unconfident partners
# dropped), classified by a separate mix head trained with DecoupledMixupLoss
# (eta 1, lambda-weighted: eta_weight=dict(eta=1, mode='both'),
# lam_scale_mode='pow', lam_idx=1); SGD lr 0.03, momentum 0.9, no Nesterov,
# no weight decay on norms and biases, cosine to 0.2 x lr. Weight decay 5e-4
# for WRN-28-2 (FixMatch's CIFAR-10 value; OpenMixup's CIFAR-100 config has
# 1e-3 for WRN-28-8). Thin configs set the length: param_scheduler.T_max =
# train_cfg.max_iters.
model = dict(
    type='DMixMatch',
    backbone=dict(type='WideResNet', depth=28, widen_factor=2),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=10, in_channels=128),
    mix_loss=dict(type='DecoupledMixupLoss', eta=1.0, lam_weighted=True),
    threshold=0.95,
    lambda_u=1.0,
    ema_momentum=0.999,
    ema_end_momentum=0.99999,
    ema_ramp_start=0.1,
    alpha=1.0,
    lam_bias='labeled',
    mix_threshold=0.95,
    ll_weight=1.0,
    lu_weight=1.0,
    lu_ramp='compounded_cosine',
)
optim_wrapper = dict(
    optimizer=dict(
        type='SGD', lr=0.03, momentum=0.9, nesterov=False, weight_decay=5e-4),
    paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0.))
param_scheduler = dict(
    type='CosineAnnealingLR', by_epoch=False, T_max=88800, eta_min_ratio=0.2)
