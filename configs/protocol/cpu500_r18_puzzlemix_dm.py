_base_ = ['./_base_cifar10_500pc_r18.py']
model = dict(mixer=dict(type='PuzzleMix', alpha=1.0))
