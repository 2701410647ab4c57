# FixMatch with WRN-28-2 (Sohn et al., NeurIPS 2020; google-research/fixmatch
# fixmatch.py): threshold 0.95, lambda_u 1, pseudo-labels of the model itself,
# EMA 0.999 for evaluation; SGD lr 0.03, momentum 0.9, Nesterov, weight decay
# 5e-4 on weights only (the reference's L2 on kernels). The reference's
# learning rate is 0.03 * cos(7 pi k / 16 K), which ends at 0.2 x 0.03; a
# cosine to 0.2 x 0.03 here, as OpenMixup's FixMatch and DMixMatch configs
# ("TorchSSL ... min_lr -> 1/5 * base_lr"). Thin configs set the length:
# param_scheduler.T_max = train_cfg.max_iters.
model = dict(
    type='FixMatch',
    backbone=dict(type='WideResNet', depth=28, widen_factor=2),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=10, in_channels=128),
    threshold=0.95,
    lambda_u=1.0,
    ema_momentum=0.999,
)
optim_wrapper = dict(
    optimizer=dict(
        type='SGD', lr=0.03, momentum=0.9, nesterov=True, weight_decay=5e-4),
    paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0.))
param_scheduler = dict(
    type='CosineAnnealingLR', by_epoch=False, T_max=2**20, eta_min_ratio=0.2)
