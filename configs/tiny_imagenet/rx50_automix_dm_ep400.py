# Tiny-ImageNet, ResNeXt-50 32x4d (CIFAR variant), 400 epochs, batch 100:
# AutoMix (alpha 2) + DM(CE) (eta 0.1). See docs/configs.md
_base_ = [
    '../_base_/models/resnext50_cifar.py',
    '../_base_/datasets/tiny_imagenet_bs100.py',
    '../_base_/schedules/tiny_imagenet_sgd_ep400.py',
    '../_base_/default_runtime.py',
]
model = dict(
    mixer=dict(type='AutoMix', alpha=2.0, in_channels=1024),
    head=dict(num_classes=200, loss=dict(type='DecoupledMixupLoss', eta=0.1)))
