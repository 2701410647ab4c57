# CUB-200-2011, ResNet-18 (ImageNet-pretrained), 200 epochs, batch 16:
# AttentiveMix+ (alpha 2) + DM(CE) (eta 0.1, both classes, λ-weighted:
# the defaults of OpenMixup's decouple configs, which have no DM run
# for this mixer). See docs/configs.md
# AttentiveMix+: OpenMixup's configs/classification/
# cub200/mixups/basic/r18_attentivemix_CE_none.py
# (ResNet-50 attention: _base_/mixers/attentivemix_plus_r50.py)
_base_ = [
    '../_base_/models/resnet18_in1k_pretrained.py',
    '../_base_/datasets/cub200_bs16.py',
    '../_base_/schedules/finetune_sgd_ep200.py',
    '../_base_/default_runtime.py',
    '../_base_/mixers/attentivemix_plus_r50.py',
]
model = dict(
    mixer={{_base_.attentivemix_plus}},
    head=dict(num_classes=200, loss=dict(type='DecoupledMixupLoss', eta=0.1)))
