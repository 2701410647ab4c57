# Semi-supervised transfer learning on CUB-200-2011 (mmpretrain's CUB at
# data/CUB_200_2011), as OpenMixup's Self-Tuning data configs
# (configs/semisup/_base_/datasets/cub200/per_{15,30,50}_sz224_bs24.py) feed
# it: 24 labeled + 24 unlabeled images a step, two views of each from one
# pipeline (short side 256, RandomResizedCrop 224 with scale 0.08-1,
# horizontal flip; no RandAugment); test: short side 256, centre crop 224. An
# epoch is one pass over the unlabeled images (the larger set), without the
# last partial batch. Normalisation: ImageNet statistics, those of the
# pretrained weights (OpenMixup's files use CIFAR-10's). The labeled part is
# a class-balanced share of the training split (labeled_ratio, thin configs;
# OpenMixup reads Self-Tuning's image lists).
_base_ = ['../../_base_/default_runtime.py']

num_classes = 200
data_root = 'data/CUB_200_2011'
data_preprocessor = dict(
    type='ClsDataPreprocessor',
    num_classes=num_classes,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)

view_pipeline = [
    dict(type='ResizeEdge', scale=256, edge='short'),
    dict(type='RandomResizedCrop', scale=224, crop_ratio_range=(0.08, 1.0)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]

# No persistent_workers: they cannot be combined with num_workers=0.
train_dataloader = dict(
    batch_size=24,
    num_workers=8,
    pin_memory=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='semi_supervised_collate'),
    dataset=dict(
        type='SemiSupervisedDataset',
        dataset=dict(
            type='CUB',
            data_root=data_root,
            split='train',
            pipeline=[dict(type='LoadImageFromFile')]),
        labeled_ratio=0.15,
        mu=1,
        labeled_views=2,
        unlabeled_pool='rest',
        split_seed=0,
        split_file=None,
        weak_pipeline=view_pipeline,
        strong_pipeline=view_pipeline),
)
val_dataloader = dict(
    batch_size=64,
    num_workers=4,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='CUB', data_root=data_root, split='test',
        pipeline=test_pipeline),
)
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_dataloader = val_dataloader
test_evaluator = val_evaluator

# Epoch-based like OpenMixup's runners; validation every 5 epochs and at the
# end (OpenMixup: every epoch). Thin configs set max_epochs.
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=130, val_interval=5)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(
        type='AtomicCheckpointHook',
        interval=5,
        max_keep_ckpts=2,
        save_last=True,
        save_best='accuracy/top1'),
)
