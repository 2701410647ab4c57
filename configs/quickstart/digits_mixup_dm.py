# Quickstart: a small ResNet trained with Mixup + Decoupled Mixup (DM) on
# scikit-learn's bundled 8x8 digits (no download). About a minute on 2 CPUs.
#   python tools/train.py configs/quickstart/digits_mixup_dm.py
_base_ = ['../_base_/default_runtime.py']

model = dict(
    type='MixupClassifier',
    data_preprocessor=dict(
        type='ClsDataPreprocessor',
        num_classes=10,
        mean=[127.5],
        std=[127.5],
        to_rgb=False),
    backbone=dict(
        type='ResNet_CIFAR',
        depth=18,
        in_channels=1,
        stem_channels=16,
        base_channels=16),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='DMClsHead',
        num_classes=10,
        in_channels=128,
        loss=dict(type='DecoupledMixupLoss', eta=0.1)),
    mixer=dict(type='Mixup', alpha=1.0),
)

dataset_type = 'DigitsDataset'
train_pipeline = [
    dict(type='RandomCrop', crop_size=8, padding=1),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='PackInputs')]

train_dataloader = dict(
    batch_size=64,
    num_workers=0,
    dataset=dict(type=dataset_type, split='train', pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True),
)
val_dataloader = dict(
    batch_size=256,
    num_workers=0,
    dataset=dict(type=dataset_type, split='test', pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
val_evaluator = [
    dict(type='Accuracy', topk=(1, 5)),
    dict(type='ECE', n_bins=15),  # calibration/ece, %, lower is better
]
test_dataloader = val_dataloader
test_evaluator = val_evaluator

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-4,
                   nesterov=True))
param_scheduler = dict(type='CosineAnnealingLR', by_epoch=True, T_max=30)
train_cfg = dict(by_epoch=True, max_epochs=30, val_interval=5)
val_cfg = dict()
test_cfg = dict()

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(type='AtomicCheckpointHook', interval=5, max_keep_ckpts=1,
                    save_last=True),
)
work_dir = './work_dirs/digits_mixup_dm'
