# FixMatch + Decoupled Mixup, WRN-28-2, CIFAR-10 JPEG copy, 250 labels, short
# schedule; the same split file as the FixMatch run.
_base_ = ['./wrn28_2_fixmatch_cifar10jpeg_250_short.py']

model = dict(dm=True)
