# FGVC-Aircraft, ResNet-18 (ImageNet-pretrained), 200 epochs, batch 16:
# CutMix (alpha 1, the MCE baseline's) + DM(CE) (eta 0.1, both
# classes, λ-weighted: the defaults of OpenMixup's decouple configs,
# which have none for this setting). See docs/configs.md
_base_ = [
    '../_base_/models/resnet18_in1k_pretrained.py',
    '../_base_/datasets/aircraft_bs16.py',
    '../_base_/schedules/finetune_sgd_ep200.py',
    '../_base_/default_runtime.py',
]
model = dict(
    mixer=dict(type='CutMix', alpha=1.0),
    head=dict(num_classes=100, loss=dict(type='DecoupledMixupLoss', eta=0.1)))
