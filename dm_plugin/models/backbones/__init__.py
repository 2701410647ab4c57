from .resnext_cifar import ResNeXt_CIFAR
from .wide_resnet import WideResNet

__all__ = ['ResNeXt_CIFAR', 'WideResNet']
