# Dynamic baseline of the CPU protocol: AutoMix with its own objective (MCE)
# and the settings of OpenMixup's CIFAR AutoMix runs (configs/classification/
# cifar100/automix/basic/r18_l2_a2_near_L1_01_mlr5e_2.py, commit 37e1372):
# the mixer's CIFAR defaults (EMA ramp 0.999 -> 0.999999, no lambda channel)
# and the learning rate annealed to 0.05 rather than 0 (OpenMixup's
# min_lr=0.05, for every parameter).
_base_ = ['./cpu500_r18_mixup_mce.py']
model = dict(mixer=dict(type='AutoMix', alpha=2.0, in_channels=256))
param_scheduler = dict(eta_min=0.05)
