# Tiny-ImageNet, ResNet-18 (CIFAR variant), 400 epochs, batch 100:
# PuzzleMix (alpha 1) + DM(CE) (eta 0.1). See docs/configs.md
# PuzzleMix: OpenMixup's mix_args.puzzlemix (block_num=4, t_size=-1) of
# configs/classification/tiny_imagenet/mixups/basic/r18_mixups_CE_none.py
# (docs/configs.md).
# The PuzzleMix paper's own Tiny-ImageNet runs add block size 16 and the
# clean-input loss: block_nums=(2, 4, 8, 16), clean_loss_weight=2.0.
_base_ = [
    '../_base_/models/resnet18_cifar.py',
    '../_base_/datasets/tiny_imagenet_bs100.py',
    '../_base_/schedules/tiny_imagenet_sgd_ep400.py',
    '../_base_/default_runtime.py',
]
model = dict(
    mixer=dict(
        type='PuzzleMix', alpha=1.0, block_nums=(2, 4, 8), t_grid=None),
    head=dict(num_classes=200, loss=dict(type='DecoupledMixupLoss', eta=0.1)))
