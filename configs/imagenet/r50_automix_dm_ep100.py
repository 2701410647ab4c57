# ImageNet-1k, ResNet-50, 100 epochs, batch 4x64:
# AutoMix (alpha 2) + DM(CE) (eta 0.1). See docs/configs.md
_base_ = [
    '../_base_/models/resnet50.py',
    '../_base_/datasets/imagenet_bs64.py',
    '../_base_/schedules/imagenet_sgd_ep100.py',
    '../_base_/default_runtime.py',
]
model = dict(
    mixer=dict(type='AutoMix', alpha=2.0, in_channels=1024),
    head=dict(num_classes=1000, loss=dict(type='DecoupledMixupLoss', eta=0.1)))
