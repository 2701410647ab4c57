# CPU protocol (docs/results.md): the data-efficient regime where DM is meant
# to help. A fixed, seeded subset of 500 training images per class of the
# CIFAR-10 JPEG copy, the full 10,000-image test set, ResNet-18 (CIFAR).
_base_ = ['./_base_cifar10_jpeg_r18.py']

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ClassBalancedSubset',
        per_class=500,
        seed=0,  # the subset; the training seed is randomness.seed
        dataset=dict(
            type='CachedImageDataset',
            data_root={{_base_.data_root}},
            split='train')))

epochs = 15
param_scheduler = dict(T_max=epochs)
train_cfg = dict(max_epochs=epochs, val_interval=5)
default_hooks = dict(logger=dict(interval=10))
