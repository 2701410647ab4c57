# Semi-supervised transfer learning on FGVC-Aircraft (100 variants;
# mmpretrain's FGVCAircraft at data/fgvc_aircraft, trained on trainval,
# evaluated on test), set up as cub_semisup.py (OpenMixup's
# configs/semisup/_base_/datasets/aircrafts/per_*_sz224_bs24.py).
_base_ = ['./cub_semisup.py']

num_classes = 100
data_root = 'data/fgvc_aircraft'
data_preprocessor = dict(num_classes=num_classes)
train_dataloader = dict(
    dataset=dict(
        dataset=dict(
            type='FGVCAircraft', data_root=data_root, split='trainval')))
val_dataloader = dict(
    dataset=dict(type='FGVCAircraft', data_root=data_root, split='test'))
test_dataloader = val_dataloader
