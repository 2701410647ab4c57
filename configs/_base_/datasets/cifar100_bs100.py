# CIFAR-100, 32x32, batch 100 (1 GPU): as cifar10_bs100.py, with
# CheckedCIFAR100 (the official python archive extracted under data_root,
# i.e. cifar-100-python/). Nothing is downloaded.
_base_ = './cifar10_bs100.py'
dataset_type = 'CheckedCIFAR100'
data_root = 'data/cifar100'  # holds cifar-100-python/
data_preprocessor = dict(
    num_classes=100,
    mean=[129.304, 124.070, 112.434],
    std=[68.170, 65.392, 70.418])
train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = dict(topk=(1, 5))
test_evaluator = val_evaluator
