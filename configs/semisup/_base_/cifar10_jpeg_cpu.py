# The CPU comparison of FixMatch and DMixMatch (docs/semisup.md, "CPU
# comparison"): CIFAR-10 as a JPEG ImageFolder tree (train/<class>/*.jpg,
# test/<class>/*.jpg) under data/cifar10-jpeg, 250 labels, a schedule sized
# for a 2-core CPU: 800 iterations of 8 labeled + 56 unlabeled images
# (FixMatch's mu = 7 at 1/8 of its batch), validation on the 10,000 test
# images every 200 iterations. Both methods share this file, the split file
# and the seeds; the thin configs shorten the EMA and batch-norm horizons to
# the short run (see there). Point elsewhere with --cfg-options
#   train_dataloader.dataset.dataset.data_root=D
#   val_dataloader.dataset.data_root=D test_dataloader.dataset.data_root=D
_base_ = ['./semisup_runtime.py', './cifar10_semisup.py']

data_root = 'data/cifar10-jpeg'
max_iters = 800
val_interval = 200

data_preprocessor = dict(to_rgb=True)  # LoadImageFromFile reads BGR
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=val_interval, max_keep_ckpts=1))
log_processor = dict(window_size=10)
train_dataloader = dict(
    batch_size=8,
    num_workers=1,
    pin_memory=False,
    dataset=dict(
        labeled_per_class=25,
        split_file='work_dirs/semi_splits/cifar10jpeg_250_seed0.json',
        dataset=dict(
            _delete_=True,
            type='CustomDataset',
            data_root=data_root,
            data_prefix='train',
            pipeline=[dict(type='LoadImageFromFile')])))
val_dataloader = dict(
    batch_size=128,
    num_workers=1,
    dataset=dict(
        _delete_=True,
        type='CustomDataset',
        data_root=data_root,
        data_prefix='test',
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='PackInputs')]))
test_dataloader = val_dataloader
