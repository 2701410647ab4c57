# ResNet-18 initialised from torchvision's ImageNet-1k weights, as the paper
# fine-tunes on CUB-200, FGVC-Aircraft and Stanford Cars. Building the model
# downloads nothing; `Runner` loads the weights when training starts (into
# ~/.cache/torch). Offline, point `checkpoint` at a local file, e.g.
#   --cfg-options model.backbone.init_cfg.checkpoint=/path/resnet18.pth
# or train from scratch with model.backbone.init_cfg=None.
_base_ = './resnet18.py'
model = dict(
    backbone=dict(
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet18')))
