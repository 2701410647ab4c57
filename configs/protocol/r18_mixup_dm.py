_base_ = ['./_base_cifar10_jpeg_r18.py']
