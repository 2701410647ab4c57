# CIFAR-10, ResNet-18 (CIFAR variant), 800 epochs, batch 100:
# ResizeMix (alpha 1, the MCE baseline's) + DM(CE) (eta 0.1, both
# classes, λ-weighted: the defaults of OpenMixup's decouple configs,
# which have none for this setting). See docs/configs.md
_base_ = [
    '../_base_/models/resnet18_cifar.py',
    '../_base_/datasets/cifar10_bs100.py',
    '../_base_/schedules/cifar_sgd_ep800.py',
    '../_base_/default_runtime.py',
]
model = dict(
    mixer=dict(type='ResizeMix', alpha=1.0),
    head=dict(num_classes=10, loss=dict(type='DecoupledMixupLoss', eta=0.1)))
