# Semi-supervised transfer learning on Stanford Cars (196 classes;
# mmpretrain's StanfordCars at data/stanfordcars), set up as cub_semisup.py
# (OpenMixup's configs/semisup/_base_/datasets/cars/per_*_sz224_bs24.py).
_base_ = ['./cub_semisup.py']

num_classes = 196
data_root = 'data/stanfordcars'
data_preprocessor = dict(num_classes=num_classes)
train_dataloader = dict(
    dataset=dict(
        dataset=dict(type='StanfordCars', data_root=data_root,
                     split='train')))
val_dataloader = dict(
    dataset=dict(type='StanfordCars', data_root=data_root, split='test'))
test_dataloader = val_dataloader
