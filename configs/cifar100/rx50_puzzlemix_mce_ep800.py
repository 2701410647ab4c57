# CIFAR-100, ResNeXt-50 32x4d (CIFAR variant), 800 epochs, batch 100:
# PuzzleMix (alpha 1) + soft CE (MCE). See docs/configs.md
# PuzzleMix: the settings of OpenMixup's CIFAR runs (mix_args.puzzlemix of
# configs/classification/cifar100/mixups/basic/r18_mixups_CE_none.py:
# block_num=5, i.e. g in {2, 4, 8, 16}, t_size=4, beta 1.2, gamma 0.5,
# eta 0.2, neigh_size 4, n_labels 3, t_eps 0.8), which are the PuzzleMix
# authors' CIFAR-100 command (snu-mllab/PuzzleMix README), labeling by
# their alpha-beta swap graph cuts: the mixer's defaults.
_base_ = [
    '../_base_/models/resnext50_cifar.py',
    '../_base_/datasets/cifar100_bs100.py',
    '../_base_/schedules/cifar_sgd_ep800.py',
    '../_base_/default_runtime.py',
]
model = dict(
    mixer=dict(type='PuzzleMix', alpha=1.0),
    head=dict(
        type='LinearClsHead',
        num_classes=100,
        loss=dict(type='CrossEntropyLoss', use_soft=True)))
