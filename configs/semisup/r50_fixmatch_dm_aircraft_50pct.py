# FixMatch + Decoupled Mixup, ImageNet-pretrained ResNet-50, FGVC-Aircraft with
# 50% of each class labeled (the same split file as the FixMatch run).
_base_ = ['./r50_fixmatch_aircraft_50pct.py']

model = dict(dm=True)
