# Runtime of the semi-supervised configs: iteration-based training (FixMatch
# counts iterations; the epoch-based Self-Tuning configs override the loop),
# validation and checkpoints every `val_interval` iterations, metrics logged
# by iteration. The classifiers read the iteration and `max_iters` for their
# schedules from mmengine's runtime information.
_base_ = ['../../_base_/default_runtime.py']

max_iters = 2**20
val_interval = 5120

train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=val_interval)
val_cfg = dict()
test_cfg = dict()

default_hooks = dict(
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
