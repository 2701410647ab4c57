# AttentiveMix+ with a frozen ImageNet ResNet-50 (torchvision IMAGENET1K_V1),
# as OpenMixup's CUB-200 and FGVC-Aircraft configs (`pretrained_k=
# "torchvision://resnet50"`); see attentivemix_plus.py.
_base_ = ['./attentivemix_plus.py']
attentivemix_plus = dict(
    attention_net=dict(depth=50),
    attention_checkpoint='torchvision://resnet50')
