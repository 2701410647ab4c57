# CUB-200-2011, ResNet-18 (ImageNet-pretrained), 200 epochs, batch 16:
# PuzzleMix (alpha 1) + DM(CE) (eta 0.1). See docs/configs.md
# PuzzleMix: the settings of OpenMixup's CUB-200 runs (mix_args.puzzlemix
# of configs/classification/cub200/mixups/basic/r18_mixups_CE_none.py:
# block_num=4, i.e. g in {2, 4, 8}, t_size=-1, i.e. transport on the
# labeling grid, other values as on CIFAR), labeling by the PuzzleMix
# authors' alpha-beta swap graph cuts.
_base_ = [
    '../_base_/models/resnet18_in1k_pretrained.py',
    '../_base_/datasets/cub200_bs16.py',
    '../_base_/schedules/finetune_sgd_ep200.py',
    '../_base_/default_runtime.py',
]
model = dict(
    mixer=dict(
        type='PuzzleMix', alpha=1.0, block_nums=(2, 4, 8), t_grid=None),
    head=dict(num_classes=200, loss=dict(type='DecoupledMixupLoss', eta=0.1)))
