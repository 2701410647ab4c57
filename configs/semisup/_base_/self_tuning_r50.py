# Self-Tuning with an ImageNet-pretrained ResNet-50, as OpenMixup's
# configs/semisup/selftuning/{cub200,aircrafts,cars}/r50/
# r50_per_{15,30,50}_bs24_cos_no_randaug.py: 32 queued keys per class,
# projector 2048-2048-1024 (MoCoV2Neck, Kaiming init), temperature 0.07,
# key-encoder momentum 0.999; SGD lr 0.001, momentum 0.9, weight decay 1e-4,
# no Nesterov, cosine to 0 by epoch. Differences: the classification heads
# train at 10x lr as those configs intend (their key 'head_cls' matches no
# parameter name, so OpenMixup's runs kept the head at 1x); the queue has a
# block per class of the dataset (OpenMixup's configs keep class_num=200 for
# Aircraft and Cars). Weights: torchvision's ImageNet ResNet-50
# (IMAGENET1K_V1, OpenMixup's resnet50_pytorch.pth), downloaded once and
# loaded weights-only. Thin configs set max_epochs (param_scheduler.T_max).
model = dict(
    type='SelfTuning',
    backbone=dict(
        type='ResNet',
        depth=50,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://download.pytorch.org/models/'
            'resnet50-0676ba61.pth')),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=200, in_channels=2048),
    projector=dict(
        type='MoCoV2Neck',
        in_channels=2048,
        hid_channels=2048,
        out_channels=1024,
        with_avg_pool=False,
        init_cfg=dict(
            type='Kaiming', layer='Linear', mode='fan_in',
            nonlinearity='relu')),
    queue_size=32,
    temperature=0.07,
    momentum=0.999,
)
optim_wrapper = dict(
    optimizer=dict(
        type='SGD', lr=0.001, momentum=0.9, weight_decay=1e-4,
        nesterov=False),
    paramwise_cfg=dict(custom_keys={'head': dict(lr_mult=10.)}))
param_scheduler = dict(
    type='CosineAnnealingLR', by_epoch=True, T_max=130, eta_min=0.)
