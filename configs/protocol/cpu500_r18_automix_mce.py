# Dynamic baseline of the CPU protocol: AutoMix with its own objective (MCE).
_base_ = ['./cpu500_r18_mixup_mce.py']
model = dict(mixer=dict(type='AutoMix', alpha=2.0, in_channels=256))
