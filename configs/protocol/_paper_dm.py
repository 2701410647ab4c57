# The DM settings of the paper's runs, in one place for the protocol configs
# (r18_*_dm.py, cpu500_r18_*_dm.py): the mixer's alpha and the loss of
# OpenMixup's CIFAR-100 ResNet-18 decouple configs
# (configs/classification/cifar100/mixups/decouple/, commit 37e1372):
#   Mixup:  alpha 0.2, eta 0.01, decoupled class 'more' (major), lam_idx 0.5
#   CutMix: alpha 0.2, eta 0.1,  decoupled class 'less' (minor), lam_idx 0.5
# PENDING issue 12: DecoupledMixupLoss does not take `decouple` / `lam_power`
# yet. Until it does, these run the paper's alpha and eta on both classes,
# lambda-weighted (lam_power 1); once it does, uncomment the two arguments
# (and follow configs/cifar10/r18_{mixup,cutmix}_dm_ep800.py if those state
# other CIFAR-10 settings).
paper_dm = dict(
    Mixup=dict(
        mixer=dict(type='Mixup', alpha=0.2),
        loss=dict(
            type='DecoupledMixupLoss',
            eta=0.01,
            # decouple='major', lam_power=0.5,
        )),
    CutMix=dict(
        mixer=dict(type='CutMix', alpha=0.2),
        loss=dict(
            type='DecoupledMixupLoss',
            eta=0.1,
            # decouple='minor', lam_power=0.5,
        )),
)
