# Dynamic baseline of the GPU protocol: SAMix with its own objective (MCE)
# and the settings of OpenMixup's CIFAR SAMix runs (configs/classification/
# cifar100/samix/basic/r18/unsampling_modebilinear/r18_l2_a2_bili_val_dp0_
# mul_x_cat_L1_var_01_mlr5e_2_lam_mul_k0_25_mask_adjust0_25_ep800.py, commit
# 37e1372): the mixer's CIFAR defaults and the learning rate annealed to
# 0.05 rather than 0 (OpenMixup's min_lr=0.05, for every parameter).
_base_ = ['./r18_mixup_mce.py']
model = dict(mixer=dict(type='SAMix', alpha=2.0, in_channels=256))
param_scheduler = dict(eta_min=0.05)
