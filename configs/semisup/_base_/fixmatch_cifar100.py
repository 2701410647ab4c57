# FixMatch (+ DM) with WRN-28-8 on CIFAR-100: weight decay 1e-3 (FixMatch's
# setting for this model), top-1/top-5 accuracy.
_base_ = ['./fixmatch_cifar.py']

num_classes = 100
data_root = 'data/cifar100'
model = dict(
    data_preprocessor=dict(
        num_classes=num_classes,
        mean=[129.304, 124.070, 112.434],
        std=[68.170, 65.392, 70.418]),
    backbone=dict(widen_factor=8),
    head=dict(num_classes=num_classes, in_channels=512),
)
optim_wrapper = dict(optimizer=dict(weight_decay=1e-3))
train_dataloader = dict(
    dataset=dict(dataset=dict(type='CIFAR100', data_root=data_root)))
val_dataloader = dict(dataset=dict(type='CIFAR100', data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_evaluator = val_evaluator
