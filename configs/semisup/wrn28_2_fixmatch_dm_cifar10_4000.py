# FixMatch + Decoupled Mixup, WRN-28-2, CIFAR-10 with 4000 labels: the same
# split file as the FixMatch run, plus Mixup between labeled and pseudo-labeled
# samples trained with DecoupledMixupLoss (eta=0.1).
_base_ = ['./wrn28_2_fixmatch_cifar10_4000.py']

model = dict(dm=True)
