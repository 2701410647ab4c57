# CIFAR-10, 32x32, batch 100 (1 GPU), read from the official python archive
# extracted under data_root (cifar-10-batches-py/) by CheckedCIFAR10, which
# names a missing or mismatching file and never downloads (docs/datasets.md;
# tools/dataset_converters/folder_to_cifar.py writes this layout from an
# ImageFolder copy). Augmentation of the paper's CIFAR-10 runs (OpenMixup
# configs/classification/_base_/datasets/cifar10/sz32_bs100.py: torchvision's
# RandomCrop(32, padding=4), which pads with zeros): 4-pixel zero-padded
# random crop and horizontal flip. cifar100_bs100.py reflect-pads, as
# OpenMixup's CIFAR-100 base does.
dataset_type = 'CheckedCIFAR10'
data_root = 'data/cifar10'  # holds cifar-10-batches-py/
data_preprocessor = dict(
    num_classes=10,
    mean=[125.307, 122.961, 113.8575],
    std=[51.5865, 50.847, 51.255],
    to_rgb=False)  # the archive is RGB already

train_pipeline = [
    dict(type='RandomCrop', crop_size=32, padding=4, pad_val=0),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='PackInputs')]

train_dataloader = dict(
    batch_size=100,
    num_workers=4,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        download=False,
        pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True),
)
val_dataloader = dict(
    batch_size=100,
    num_workers=4,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='test',
        download=False,
        pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_dataloader = val_dataloader
test_evaluator = val_evaluator
