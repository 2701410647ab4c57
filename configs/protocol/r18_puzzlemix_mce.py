# Dynamic baseline of the GPU protocol: PuzzleMix with its own objective
# (MCE), full CIFAR-10 copy, with the settings of OpenMixup's CIFAR runs
# (as cpu500_r18_puzzlemix_mce.py).
_base_ = ['./r18_mixup_mce.py']
model = dict(mixer=dict(type='PuzzleMix', alpha=1.0))
