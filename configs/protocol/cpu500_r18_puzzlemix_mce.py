# Dynamic baseline of the CPU protocol: PuzzleMix with its own objective (MCE).
_base_ = ['./cpu500_r18_mixup_mce.py']
model = dict(mixer=dict(type='PuzzleMix', alpha=1.0))
