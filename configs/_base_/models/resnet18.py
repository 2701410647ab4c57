# ResNet-18 (ImageNet variant) for 224x224 inputs. Configs set
# head.num_classes and the mixer.
model = dict(
    type='MixupClassifier',
    backbone=dict(type='ResNet', depth=18),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='DMClsHead', in_channels=512),
)
