# CIFAR-10 as image files in ImageFolder layout, read by mmpretrain's
# CustomDataset: data_root/train/<class>/*.jpg, data_root/test/<class>/*.jpg
# (class folders named as CIFAR-10's classes; docs/datasets.md). Any
# ImageFolder tree of 32x32 images works the same way (set num_classes).
# Same augmentation as cifar10_bs100.py.
_base_ = './cifar10_bs100.py'
dataset_type = 'CustomDataset'
data_root = 'data/cifar10-jpeg'  # train/<class>/, test/<class>/
data_preprocessor = dict(to_rgb=True)  # image files are decoded as BGR
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomCrop', crop_size=32, padding=4, pad_val=0),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        data_root=data_root,
        data_prefix='train',
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        data_root=data_root,
        data_prefix='test',
        pipeline=test_pipeline))
test_dataloader = val_dataloader
