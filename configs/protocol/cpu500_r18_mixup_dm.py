# Mixup + DM with the paper's settings (_paper_dm.py), 500 images per class.
_base_ = ['./_base_cifar10_500pc_r18.py', './_paper_dm.py']
model = dict(
    mixer={{_base_.paper_dm.Mixup.mixer}},
    head=dict(loss={{_base_.paper_dm.Mixup.loss}}))
