# CutMix + DM with the paper's settings (_paper_dm.py), full CIFAR-10 copy.
_base_ = ['./_base_cifar10_jpeg_r18.py', './_paper_dm.py']
model = dict(
    mixer={{_base_.paper_dm.CutMix.mixer}},
    head=dict(loss={{_base_.paper_dm.CutMix.loss}}))
