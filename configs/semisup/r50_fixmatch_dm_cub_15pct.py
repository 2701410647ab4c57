# FixMatch + Decoupled Mixup, ImageNet-pretrained ResNet-50, CUB-200-2011 with
# 15% of each class labeled (the same split file as the FixMatch run).
_base_ = ['./r50_fixmatch_cub_15pct.py']

model = dict(dm=True)
