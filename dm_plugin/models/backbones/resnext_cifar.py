"""ResNeXt for CIFAR-sized inputs.

Xie et al. "Aggregated Residual Transformations for Deep Neural Networks",
CVPR 2017, with the CIFAR stem of mmpretrain's ResNet_CIFAR.
"""
from mmpretrain.models.backbones import ResNet_CIFAR, ResNeXt
from mmpretrain.registry import MODELS


@MODELS.register_module()
class ResNeXt_CIFAR(ResNet_CIFAR, ResNeXt):
    """ResNeXt (grouped bottlenecks, ``groups`` x ``width_per_group``) with
    the CIFAR stem of :class:`ResNet_CIFAR`: one 3x3 stride-1 conv and no
    max-pool, so 32x32 inputs reach stage 4 at 4x4. The ResNeXt-50 (32x4d)
    of the mixup benchmarks on CIFAR and Tiny-ImageNet.

    Args:
        depth (int): 50, 101 or 152.
        groups (int): Groups of the 3x3 convs. Defaults to 32.
        width_per_group (int): Width of each group. Defaults to 4.
        **kwargs: Other :class:`ResNet` arguments (``deep_stem`` must stay
            False).

    Shapes:
        (N, 3, H, W) -> stage ``i`` outputs (N, 256 * 2**i, H / 2**i,
        W / 2**i).
    """
