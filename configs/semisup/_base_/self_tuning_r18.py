# Self-Tuning with an ImageNet-pretrained ResNet-18, as OpenMixup's
# configs/semisup/selftuning/{cub200,aircrafts,cars}/r18/
# r18_per_{15,30,50}_bs24_cos_no_randaug.py: self_tuning_r50.py with
# torchvision's ResNet-18 (IMAGENET1K_V1, OpenMixup's resnet18_pytorch.pth)
# and a 512-512-1024 projector.
_base_ = ['./self_tuning_r50.py']

model = dict(
    backbone=dict(
        depth=18,
        init_cfg=dict(
            checkpoint='https://download.pytorch.org/models/'
            'resnet18-f37072fd.pth')),
    head=dict(in_channels=512),
    projector=dict(in_channels=512, hid_channels=512))
