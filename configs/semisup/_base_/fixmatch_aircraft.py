# FGVC-Aircraft (100 variants; mmpretrain's FGVCAircraft at
# data/fgvc_aircraft; trained on trainval, evaluated on test).
_base_ = ['./fixmatch_fine_grained.py']

num_classes = 100
data_root = 'data/fgvc_aircraft'
model = dict(
    data_preprocessor=dict(num_classes=num_classes),
    head=dict(num_classes=num_classes))
train_dataloader = dict(
    dataset=dict(
        dataset=dict(
            type='FGVCAircraft', data_root=data_root, split='trainval')))
val_dataloader = dict(
    dataset=dict(type='FGVCAircraft', data_root=data_root, split='test'))
test_dataloader = val_dataloader
