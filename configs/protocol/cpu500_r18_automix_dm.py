_base_ = ['./_base_cifar10_500pc_r18.py']
model = dict(mixer=dict(type='AutoMix', alpha=2.0, in_channels=256))
