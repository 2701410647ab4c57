# ImageNet-1k, ResNet-50, 100 epochs, batch 4x64:
# AttentiveMix+ (alpha 2) + DM(CE) (eta 0.1, both classes, λ-weighted:
# the defaults of OpenMixup's decouple configs, which have no DM run
# for this mixer). See docs/configs.md
# AttentiveMix+: OpenMixup's configs/classification/
# imagenet/mixups/basic/r50_attentivemix_CE_none_4xb64.py
# (ResNet-18 attention: _base_/mixers/attentivemix_plus.py)
_base_ = [
    '../_base_/models/resnet50.py',
    '../_base_/datasets/imagenet_bs64.py',
    '../_base_/schedules/imagenet_sgd_ep100.py',
    '../_base_/default_runtime.py',
    '../_base_/mixers/attentivemix_plus.py',
]
model = dict(
    mixer={{_base_.attentivemix_plus}},
    head=dict(num_classes=1000, loss=dict(type='DecoupledMixupLoss', eta=0.1)))
