# ResNet-18, CIFAR variant (3x3 stride-1 stem, no max-pool) for 32x32 and
# 64x64 inputs. MixupClassifier mixes each training batch itself (set
# `mixer`); the head trains DM(CE) unless a config swaps it. Configs set
# head.num_classes.
model = dict(
    type='MixupClassifier',
    backbone=dict(type='ResNet_CIFAR', depth=18),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='DMClsHead', in_channels=512),
)
