# CIFAR schedule of the paper: SGD (lr 0.1, momentum 0.9, weight decay
# 1e-4), cosine decay to 0 over 800 epochs, batch 100.
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4))
param_scheduler = dict(type='CosineAnnealingLR', by_epoch=True, eta_min=0.)
train_cfg = dict(by_epoch=True, max_epochs=800, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=100)
