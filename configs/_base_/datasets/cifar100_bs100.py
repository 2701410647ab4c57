# CIFAR-100, 32x32, batch 100 (1 GPU): as cifar10_bs100.py, with
# CheckedCIFAR100 (the official python archive extracted under data_root,
# i.e. cifar-100-python/; nothing is downloaded) and the crop of the paper's
# CIFAR-100 runs, 4-pixel reflect padding (OpenMixup
# configs/classification/_base_/datasets/cifar100/sz32_bs100.py: torchvision's
# RandomCrop(32, padding=4, padding_mode='reflect')). mmpretrain's RandomCrop
# fills `padding` with zeros whatever padding_mode says, but pad_if_needed
# follows padding_mode: so reflect-pad to 40x40, then crop 32x32 at a uniform
# offset (the same 81 crops, equally likely; tests/configs).
_base_ = './cifar10_bs100.py'
dataset_type = 'CheckedCIFAR100'
data_root = 'data/cifar100'  # holds cifar-100-python/
data_preprocessor = dict(
    num_classes=100,
    mean=[129.304, 124.070, 112.434],
    std=[68.170, 65.392, 70.418])
train_pipeline = [
    dict(type='RandomCrop', crop_size=40, pad_if_needed=True,
         padding_mode='reflect'),
    dict(type='RandomCrop', crop_size=32),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root,
                 pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = dict(topk=(1, 5))
test_evaluator = val_evaluator
