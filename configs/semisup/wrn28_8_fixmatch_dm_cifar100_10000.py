# FixMatch + Decoupled Mixup, WRN-28-8, CIFAR-100 with 10000 labels: the same
# split file as the FixMatch run, plus Mixup between labeled and pseudo-labeled
# samples trained with DecoupledMixupLoss (eta=0.1).
_base_ = ['./wrn28_8_fixmatch_cifar100_10000.py']

model = dict(dm=True)
