# Tiny-ImageNet, 64x64, batch 100 (1 GPU), fast path: the data and
# augmentation of tiny_imagenet_bs100.py (random resized crop to 64,
# horizontal flip) with the per-sample work moved off the loader.
# CachedImageDataset decodes the extracted tiny-imagenet-200/ once into a
# cached uint8 array (about 1.2 GB for the training split);
# BatchTransformPreprocessor crops, resizes (OpenCV's bilinear arithmetic),
# flips and normalises the whole batch on the device, with the distributions
# of mmpretrain's per-sample RandomResizedCrop / RandomFlip.
_base_ = './cifar10_fast_bs100.py'
data_root = 'data/tiny-imagenet-200'  # wnids.txt, train/, val/
data_preprocessor = dict(
    num_classes=200,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    transforms=[
        dict(type='RandomResizedCrop', scale=64),
        dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    ])
train_dataloader = dict(
    dataset=dict(data_root=data_root, layout='tiny-imagenet'))
val_dataloader = dict(
    dataset=dict(data_root=data_root, layout='tiny-imagenet', split='val'))
test_dataloader = val_dataloader
val_evaluator = dict(topk=(1, 5))
test_evaluator = val_evaluator
