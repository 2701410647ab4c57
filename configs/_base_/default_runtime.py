# Runtime shared by dm-plugin configs (mmpretrain conventions).
default_scope = 'mmpretrain'
custom_imports = dict(imports=['dm_plugin'], allow_failed_imports=False)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=10),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='AtomicCheckpointHook', interval=1, max_keep_ckpts=2, save_last=True),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='VisualizationHook', enable=False),
)

# Exact resume (RNG states in checkpoints), a clear error at the first
# NaN/Inf loss naming its part, a head/dataset num_classes check, and the
# training progress for mixers with schedules (AutoMix/SAMix EMA momentum).
custom_hooks = [
    dict(type='RandomStateHook'),
    dict(type='NonFiniteLossHook'),
    dict(type='NumClassesCheckHook'),
    dict(type='MixerProgressHook'),
]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='UniversalVisualizer', vis_backends=vis_backends)

log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0, deterministic=False)
