# FixMatch's optimisation (Sohn et al., NeurIPS 2020): SGD with Nesterov
# momentum, lr 0.03, weight decay 5e-4 (not on norm layers or biases), cosine
# decay over 2^20 iterations, iteration-based training.
_base_ = ['../../_base_/default_runtime.py']

max_iters = 2**20
val_interval = 5120

optim_wrapper = dict(
    optimizer=dict(
        type='SGD', lr=0.03, momentum=0.9, nesterov=True, weight_decay=5e-4),
    paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0.))
param_scheduler = dict(
    type='CosineAnnealingLR', by_epoch=False, T_max=max_iters, eta_min=0.)

train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=val_interval)
val_cfg = dict()
test_cfg = dict()

default_hooks = dict(
    # Validation metrics logged at the iteration, not epoch 0.
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    checkpoint=dict(
        type='AtomicCheckpointHook',
        by_epoch=False,
        interval=val_interval,
        max_keep_ckpts=2,
        save_last=True,
        save_best='accuracy/top1'),
)
log_processor = dict(by_epoch=False, window_size=50)
