_base_ = ['./cpu500_r18_mixup_mce.py']
model = dict(mixer=dict(type='CutMix', alpha=0.2))
