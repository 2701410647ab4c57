# Evidence protocol (docs/results.md): ResNet-18 (CIFAR variant) on the
# CIFAR-10 JPEG copy in ImageFolder layout (data_root/train/<class>/*.jpg,
# data_root/test/<class>/*.jpg). Variants set the mixer and the loss.
# Fast path (docs/benchmarks.md), from cifar10_fast_bs100.py: the images are
# decoded once into a cached uint8 array (CachedImageDataset, cache in
# $DM_PLUGIN_CACHE_DIR or ~/.cache/dm_plugin), and the random crop (4 pixels
# of zero padding, as OpenMixup's CIFAR-10 pipeline) and flip
# run on the whole batch on the device (BatchTransformPreprocessor), with
# the distributions of the per-sample transforms.
_base_ = [
    '../_base_/datasets/cifar10_fast_bs100.py',
    '../_base_/default_runtime.py',
]

data_root = 'data/cifar10-jpeg'

model = dict(
    type='MixupClassifier',
    data_preprocessor={{_base_.data_preprocessor}},
    backbone=dict(type='ResNet_CIFAR', depth=18),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='DMClsHead',
        num_classes=10,
        in_channels=512,
        loss=dict(type='DecoupledMixupLoss', eta=0.1)),
    mixer=dict(type='Mixup', alpha=1.0),
)

train_dataloader = dict(
    dataset=dict(data_root=data_root, layout='imagefolder'))
val_dataloader = dict(
    batch_size=500, dataset=dict(data_root=data_root, layout='imagefolder'))
val_evaluator = [
    dict(type='Accuracy', topk=(1, 5)),
    dict(type='ECE', n_bins=15),
]
test_dataloader = val_dataloader
test_evaluator = val_evaluator

# Short schedules (tens of epochs, not the paper's 800): the standard CIFAR
# short-schedule weight decay 5e-4 instead of the paper's 1e-4.
epochs = 10
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-4))
param_scheduler = dict(type='CosineAnnealingLR', by_epoch=True, T_max=epochs,
                       eta_min=0.)
train_cfg = dict(by_epoch=True, max_epochs=epochs, val_interval=5)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=100),
    checkpoint=dict(type='AtomicCheckpointHook', interval=5, max_keep_ckpts=1,
                    save_last=True))
