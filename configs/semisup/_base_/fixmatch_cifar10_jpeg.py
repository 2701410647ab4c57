# FixMatch (+ DM), WRN-28-2, on the CIFAR-10 JPEG copy (ImageFolder layout:
# train/<class>/*.jpg, test/<class>/*.jpg), extracted into the git-ignored data/:
#   mkdir -p data/cifar10-jpeg
#   tar xzf ../shared/data/cifar10-jpeg.tar.gz -C data/cifar10-jpeg
# A short schedule (cosine over 4000 iterations) for a FixMatch vs
# FixMatch + DM comparison: both runs side by side took 9 minutes on one H100
# with --amp. Point elsewhere with --cfg-options
#   train_dataloader.dataset.dataset.data_root=D
#   val_dataloader.dataset.data_root=D
_base_ = ['./fixmatch_cifar.py']

data_root = 'data/cifar10-jpeg'
max_iters = 4000
val_interval = 500

model = dict(data_preprocessor=dict(to_rgb=True))  # LoadImageFromFile: BGR
train_dataloader = dict(
    num_workers=7,
    dataset=dict(
        dataset=dict(
            _delete_=True,
            type='CustomDataset',
            data_root=data_root,
            data_prefix='train',
            pipeline=[dict(type='LoadImageFromFile')])))
val_dataloader = dict(
    num_workers=4,
    dataset=dict(
        _delete_=True,
        type='CustomDataset',
        data_root=data_root,
        data_prefix='test',
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='PackInputs')]))
test_dataloader = val_dataloader

env_cfg = dict(cudnn_benchmark=True)  # fixed input shapes
param_scheduler = dict(T_max=max_iters)
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
default_hooks = dict(
    checkpoint=dict(interval=val_interval, max_keep_ckpts=1))
