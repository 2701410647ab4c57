# Semi-supervised transfer learning (FixMatch (+ DM)) on fine-grained sets
# with an ImageNet-pretrained ResNet-50 and 15/30/50% of each class labeled.
# The dataset bases (fixmatch_cub.py, fixmatch_aircraft.py, fixmatch_cars.py)
# set the data; thin variants set labeled_ratio and, for DM, model.dm=True.
# Batch size, mu, lr and schedule are common transfer settings, not tuned.
_base_ = ['./fixmatch_schedule.py']

num_classes = 200
model = dict(
    type='SemiDMClassifier',
    data_preprocessor=dict(
        type='ClsDataPreprocessor',
        num_classes=num_classes,
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True),
    backbone=dict(
        type='ResNet',
        depth=50,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://download.openmmlab.com/mmclassification/v0/'
            'resnet/resnet50_8xb32_in1k_20210831-ea4938fc.pth',
            prefix='backbone')),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=num_classes, in_channels=2048),
    threshold=0.95,
    lambda_u=1.0,
    ema_momentum=0.999,
    teacher='online',
    dm=False,
    mixer=dict(type='Mixup', alpha=1.0),
    dm_loss=dict(type='DecoupledMixupLoss', eta=0.1),
)

fixmatch_policies = [
    dict(type='AutoContrast'),
    dict(type='Brightness', magnitude_range=(0, 0.95)),
    dict(type='ColorTransform', magnitude_range=(0, 0.95)),
    dict(type='Contrast', magnitude_range=(0, 0.95)),
    dict(type='Equalize'),
    dict(type='Posterize', magnitude_range=(8, 4)),
    dict(type='Rotate', magnitude_range=(0, 30)),
    dict(type='Sharpness', magnitude_range=(0, 0.95)),
    dict(type='Shear', magnitude_range=(0, 0.3), direction='horizontal'),
    dict(type='Shear', magnitude_range=(0, 0.3), direction='vertical'),
    dict(type='Solarize', magnitude_range=(256, 0)),
    dict(type='Translate', magnitude_range=(0, 0.3), direction='horizontal'),
    dict(type='Translate', magnitude_range=(0, 0.3), direction='vertical'),
]
weak_pipeline = [
    dict(type='RandomResizedCrop', scale=224),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
strong_pipeline = [
    dict(type='RandomResizedCrop', scale=224),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(
        type='RandAugment',
        policies=fixmatch_policies,
        num_policies=2,
        magnitude_level=10,
        magnitude_std='inf',
        total_level=10),
    dict(type='Cutout', shape=112, pad_val=128, prob=1.0),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]

data_root = 'data/CUB_200_2011'
train_dataloader = dict(
    batch_size=24,
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='semi_supervised_collate'),
    dataset=dict(
        type='SemiSupervisedDataset',
        dataset=dict(
            type='CUB',
            data_root=data_root,
            split='train',
            pipeline=[dict(type='LoadImageFromFile')]),
        labeled_ratio=0.15,
        mu=2,
        split_seed=0,
        split_file=None,
        weak_pipeline=weak_pipeline,
        strong_pipeline=strong_pipeline),
)
val_dataloader = dict(
    batch_size=64,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='CUB', data_root=data_root, split='test',
        pipeline=test_pipeline),
)
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_dataloader = val_dataloader
test_evaluator = val_evaluator

# Fine-tuning schedule: small lr on the pretrained backbone, 10x on the head.
max_iters = 30000
val_interval = 1000
optim_wrapper = dict(
    optimizer=dict(lr=0.001),
    paramwise_cfg=dict(custom_keys={'head': dict(lr_mult=10.)}))
param_scheduler = dict(T_max=max_iters)
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
default_hooks = dict(checkpoint=dict(interval=val_interval))
