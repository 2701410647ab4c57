# ResNeXt-50 (32x4d, ImageNet variant) for 224x224 inputs. Configs set
# head.num_classes and the mixer.
model = dict(
    type='MixupClassifier',
    backbone=dict(type='ResNeXt', depth=50, groups=32, width_per_group=4),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='DMClsHead', in_channels=2048),
)
