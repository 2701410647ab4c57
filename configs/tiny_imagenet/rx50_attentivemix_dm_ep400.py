# Tiny-ImageNet, ResNeXt-50 32x4d (CIFAR variant), 400 epochs, batch 100:
# AttentiveMix+ (alpha 2) + DM(CE) (eta 0.1, both classes, λ-weighted:
# the defaults of OpenMixup's decouple configs, which have no DM run
# for this mixer). See docs/configs.md
# AttentiveMix+: OpenMixup's configs/classification/
# tiny_imagenet/mixups/basic/r18_attentivemix_CE_none.py
# (ResNet-18 attention: _base_/mixers/attentivemix_plus.py)
_base_ = [
    '../_base_/models/resnext50_cifar.py',
    '../_base_/datasets/tiny_imagenet_bs100.py',
    '../_base_/schedules/tiny_imagenet_sgd_ep400.py',
    '../_base_/default_runtime.py',
    '../_base_/mixers/attentivemix_plus.py',
]
model = dict(
    mixer={{_base_.attentivemix_plus}},
    head=dict(num_classes=200, loss=dict(type='DecoupledMixupLoss', eta=0.1)))
