# CIFAR-100 for FixMatch and DMixMatch (CheckedCIFAR100: the official python
# archive extracted under data/cifar100, i.e. cifar-100-python/): the
# CIFAR-10 set-up with CIFAR-100's statistics and top-1/top-5 accuracy.
_base_ = ['./cifar10_semisup.py']

num_classes = 100
data_root = 'data/cifar100'
data_preprocessor = dict(
    num_classes=num_classes,
    mean=[129.304, 124.070, 112.434],
    std=[68.170, 65.392, 70.418])
train_dataloader = dict(
    dataset=dict(dataset=dict(type='CheckedCIFAR100', data_root=data_root)))
val_dataloader = dict(
    dataset=dict(type='CheckedCIFAR100', data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_evaluator = val_evaluator
