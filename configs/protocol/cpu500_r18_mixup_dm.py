_base_ = ['./_base_cifar10_500pc_r18.py']
