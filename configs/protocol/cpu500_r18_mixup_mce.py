_base_ = ['./_base_cifar10_500pc_r18.py']
model = dict(
    head=dict(
        type='LinearClsHead',
        loss=dict(_delete_=True, type='CrossEntropyLoss', use_soft=True)))
