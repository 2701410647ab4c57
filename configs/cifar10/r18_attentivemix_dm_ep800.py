# CIFAR-10, ResNet-18 (CIFAR variant), 800 epochs, batch 100:
# AttentiveMix+ (alpha 2) + DM(CE) (eta 0.1, both classes, λ-weighted:
# the defaults of OpenMixup's decouple configs, which have no DM run
# for this mixer). See docs/configs.md
# AttentiveMix+: OpenMixup's configs/classification/
# cifar10/mixups/basic/r18_attentivemix_CE_none.py
# (ResNet-18 attention: _base_/mixers/attentivemix_plus.py)
_base_ = [
    '../_base_/models/resnet18_cifar.py',
    '../_base_/datasets/cifar10_bs100.py',
    '../_base_/schedules/cifar_sgd_ep800.py',
    '../_base_/default_runtime.py',
    '../_base_/mixers/attentivemix_plus.py',
]
model = dict(
    mixer={{_base_.attentivemix_plus}},
    head=dict(num_classes=10, loss=dict(type='DecoupledMixupLoss', eta=0.1)))
