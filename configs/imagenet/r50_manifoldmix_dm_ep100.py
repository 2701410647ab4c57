# ImageNet-1k, ResNet-50, 100 epochs, batch 4x64:
# ManifoldMix (alpha 0.2, the MCE baseline's) + DM(CE) (eta 0.1, both
# classes, λ-weighted: the defaults of OpenMixup's decouple configs,
# which have none for this setting). See docs/configs.md
_base_ = [
    '../_base_/models/resnet50.py',
    '../_base_/datasets/imagenet_bs64.py',
    '../_base_/schedules/imagenet_sgd_ep100.py',
    '../_base_/default_runtime.py',
]
model = dict(
    mixer=dict(type='ManifoldMix', alpha=0.2),
    head=dict(num_classes=1000, loss=dict(type='DecoupledMixupLoss', eta=0.1)))
