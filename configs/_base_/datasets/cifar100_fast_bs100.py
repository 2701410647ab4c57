# CIFAR-100, 32x32, batch 100 (1 GPU), fast path: as cifar10_fast_bs100.py,
# on the python archive under data_root (cifar-100-python/); the data and
# augmentation of cifar100_bs100.py (4-pixel reflect padding, as OpenMixup's
# CIFAR-100 configs).
_base_ = './cifar10_fast_bs100.py'
data_root = 'data/cifar100'  # holds cifar-100-python/
data_preprocessor = dict(
    num_classes=100,
    mean=[129.304, 124.070, 112.434], std=[68.170, 65.392, 70.418],
    transforms=[
        dict(type='RandomCrop', crop_size=40, pad_if_needed=True,
             padding_mode='reflect'),
        dict(type='RandomCrop', crop_size=32),
        dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    ])
train_dataloader = dict(
    dataset=dict(data_root=data_root, layout='cifar100'))
val_dataloader = dict(dataset=dict(data_root=data_root, layout='cifar100'))
test_dataloader = val_dataloader
val_evaluator = dict(topk=(1, 5))
test_evaluator = val_evaluator
