# ResNeXt-50 (32x4d), CIFAR variant (3x3 stride-1 stem, no max-pool) for
# 32x32 and 64x64 inputs. Configs set head.num_classes and the mixer.
model = dict(
    type='MixupClassifier',
    backbone=dict(
        type='ResNeXt_CIFAR', depth=50, groups=32, width_per_group=4),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='DMClsHead', in_channels=2048),
)
