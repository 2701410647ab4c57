import torch
from mmpretrain.registry import MODELS


def test_cifar_stem_keeps_resolution_and_convs_are_grouped():
    model = MODELS.build(
        dict(type='ResNeXt_CIFAR', depth=50, groups=32, width_per_group=4,
             out_indices=(0, 1, 2, 3)))
    outs = model(torch.randn(2, 3, 32, 32))
    assert [tuple(o.shape) for o in outs] == [(2, 256, 32, 32),
                                              (2, 512, 16, 16),
                                              (2, 1024, 8, 8),
                                              (2, 2048, 4, 4)]
    assert model.conv1.kernel_size == (3, 3) and model.conv1.stride == (1, 1)
    assert not hasattr(model, 'maxpool')
    first = model.layer1[0].conv2
    assert (first.groups, first.in_channels) == (32, 128)
