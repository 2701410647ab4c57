_base_ = ['./_base_cifar10_jpeg_r18.py']
model = dict(mixer=dict(type='CutMix', alpha=0.2))
