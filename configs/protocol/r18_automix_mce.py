# Dynamic baseline of the GPU protocol: AutoMix with its own objective (MCE),
# full CIFAR-10 copy (as cpu500_r18_automix_mce.py).
_base_ = ['./r18_mixup_mce.py']
model = dict(mixer=dict(type='AutoMix', alpha=2.0, in_channels=256))
