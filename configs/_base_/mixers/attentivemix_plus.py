# AttentiveMix+ as OpenMixup runs it (openmixup/models/augments/
# attentivemix.py, classifiers/mixup_classification.py, configs/
# classification/*/mixups/basic/*_attentivemix_CE_none*.py): attention from a
# frozen ImageNet ResNet-18 (`backbone_k`, `pretrained_k`) on the inputs
# resized to 224, the channel mean of its last (7x7) feature map; the top
# floor(49 u) cells, at least 1, with u ~ Beta(2, 2), alpha 2 (their
# grid_size and beta arguments are not read by their code).
# attentivemix_plus_r50.py: a ResNet-50, as OpenMixup's CUB and Aircraft
# configs use. A config adds this base and sets its model.mixer to the
# variable attentivemix_plus below (docs/configs.md).
# Weights: torchvision's ImageNet ResNet (IMAGENET1K_V1; OpenMixup's
# pretrained_k is a local copy of PyTorch's ResNet-18), here mmengine's
# torchvision://resnet18: downloaded to torch's hub cache and read weights-only
# when training starts. Offline, give a local copy:
#   --cfg-options model.mixer.attention_checkpoint=PATH
attentivemix_plus = dict(
    type='AttentiveMix',
    alpha=2.0,
    grid_size=None,
    top_k=None,
    attention_net=dict(type='ResNet', depth=18),
    attention_checkpoint='torchvision://resnet18')
