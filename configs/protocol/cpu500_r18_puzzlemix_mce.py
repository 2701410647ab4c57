# Dynamic baseline of the CPU protocol: PuzzleMix with its own objective (MCE),
# with the settings of OpenMixup's CIFAR runs (mix_args.puzzlemix of
# configs/classification/cifar10/mixups/basic/r18_mixups_CE_none.py), which
# are the PuzzleMix authors' CIFAR command: the mixer's defaults.
_base_ = ['./cpu500_r18_mixup_mce.py']
model = dict(mixer=dict(type='PuzzleMix', alpha=1.0))
