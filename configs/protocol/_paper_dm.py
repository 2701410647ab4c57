# The DM settings of the paper's runs, in one place for the protocol configs
# (r18_*_dm.py, cpu500_r18_*_dm.py): the mixer's alpha and the loss of
# OpenMixup's CIFAR-100 ResNet-18 decouple configs
# (configs/classification/cifar100/mixups/decouple/, commit 37e1372):
#   Mixup:  alpha 0.2, eta 0.01, decoupled class 'more' (major), lam_idx 0.5
#   CutMix: alpha 0.2, eta 0.1,  decoupled class 'less' (minor), lam_idx 0.5
# (OpenMixup has no CIFAR-10 decouple config; the MCE twins keep the
# benchmark's MCE alpha: Mixup 1, CutMix 0.2.)
paper_dm = dict(
    Mixup=dict(
        mixer=dict(type='Mixup', alpha=0.2),
        loss=dict(
            type='DecoupledMixupLoss',
            eta=0.01,
            decouple='major',
            lam_power=0.5,
        )),
    CutMix=dict(
        mixer=dict(type='CutMix', alpha=0.2),
        loss=dict(
            type='DecoupledMixupLoss',
            eta=0.1,
            decouple='minor',
            lam_power=0.5,
        )),
)
