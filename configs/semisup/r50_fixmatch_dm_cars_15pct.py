# FixMatch + Decoupled Mixup, ImageNet-pretrained ResNet-50, Stanford Cars with
# 15% of each class labeled (the same split file as the FixMatch run).
_base_ = ['./r50_fixmatch_cars_15pct.py']

model = dict(dm=True)
