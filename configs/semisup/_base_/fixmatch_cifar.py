# FixMatch (+ DM) with WRN-28-2 on CIFAR-10 (mmpretrain's CIFAR10: the python
# version, downloaded to data/cifar10). Thin variants set the number of labels
# (labeled_per_class) and, for FixMatch + DM, model.dm=True.
_base_ = ['./fixmatch_schedule.py']

num_classes = 10
model = dict(
    type='SemiDMClassifier',
    data_preprocessor=dict(
        type='ClsDataPreprocessor',
        num_classes=num_classes,
        # CIFAR-10 RGB statistics; mmpretrain's CIFAR10 yields RGB images.
        mean=[125.307, 122.961, 113.8575],
        std=[51.5865, 50.847, 51.255],
        to_rgb=False),
    backbone=dict(type='WideResNet', depth=28, widen_factor=2),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=num_classes, in_channels=128),
    threshold=0.95,
    lambda_u=1.0,
    ema_momentum=0.999,
    teacher='online',
    dm=False,
    mixer=dict(type='Mixup', alpha=1.0),
    dm_loss=dict(type='DecoupledMixupLoss', eta=0.1),
)

# FixMatch's RandAugment pool on mmpretrain's transforms: 2 ops per image,
# each applied with probability 0.5 at a uniformly drawn magnitude, then a
# 16x16 Cutout (half the image side).
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
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomCrop', crop_size=32, padding=4, padding_mode='reflect'),
    dict(type='PackInputs'),
]
strong_pipeline = [
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomCrop', crop_size=32, padding=4, padding_mode='reflect'),
    dict(
        type='RandAugment',
        policies=fixmatch_policies,
        num_policies=2,
        magnitude_level=10,
        magnitude_std='inf',
        total_level=10),
    dict(type='Cutout', shape=16, pad_val=128, prob=1.0),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='PackInputs')]

data_root = 'data/cifar10'
train_dataloader = dict(
    batch_size=64,  # labeled samples; each brings mu unlabeled ones
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='semi_supervised_collate'),
    dataset=dict(
        type='SemiSupervisedDataset',
        dataset=dict(
            type='CIFAR10', data_root=data_root, split='train', pipeline=[]),
        labeled_per_class=25,
        mu=7,
        split_seed=0,
        split_file=None,
        weak_pipeline=weak_pipeline,
        strong_pipeline=strong_pipeline),
)
val_dataloader = dict(
    batch_size=256,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='CIFAR10',
        data_root=data_root,
        split='test',
        pipeline=test_pipeline),
)
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_dataloader = val_dataloader
test_evaluator = val_evaluator
