# CIFAR-10, 32x32, batch 100 (1 GPU), fast path: cifar10_bs100.py's data and
# augmentation with the per-sample work moved off the loader.
# CachedImageDataset decodes the python archive under data_root
# (cifar-10-batches-py/, checked as CheckedCIFAR10 checks it, read without
# running code) once into a cached uint8 array, so loading a batch is an
# index and a label (no loader workers needed); BatchTransformPreprocessor
# then crops, flips and normalises the whole batch on the device, with the
# distributions of mmpretrain's per-sample RandomCrop / RandomFlip. Swap it for
# cifar10_bs100.py in a config to train the same recipe faster.
# The padding is zeros, as in cifar10_bs100.py and OpenMixup's CIFAR-10
# configs.
data_root = 'data/cifar10'  # holds cifar-10-batches-py/
data_preprocessor = dict(
    type='BatchTransformPreprocessor',
    num_classes=10,
    mean=[125.307, 122.961, 113.8575],
    std=[51.5865, 50.847, 51.255],
    transforms=[
        dict(type='RandomCrop', crop_size=32, padding=4, pad_val=0),
        dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    ])

train_dataloader = dict(
    batch_size=100,
    num_workers=0,
    dataset=dict(
        type='CachedImageDataset',
        data_root=data_root,
        layout='cifar10',
        split='train'),
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='cached_image_collate'),
)
val_dataloader = dict(
    batch_size=100,
    num_workers=0,
    dataset=dict(
        type='CachedImageDataset',
        data_root=data_root,
        layout='cifar10',
        split='test'),
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='cached_image_collate'),
)
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_dataloader = val_dataloader
test_evaluator = val_evaluator
