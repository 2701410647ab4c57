# Stanford Cars (196 classes; mmpretrain's StanfordCars at data/stanfordcars).
_base_ = ['./fixmatch_fine_grained.py']

num_classes = 196
data_root = 'data/stanfordcars'
model = dict(
    data_preprocessor=dict(num_classes=num_classes),
    head=dict(num_classes=num_classes))
train_dataloader = dict(
    dataset=dict(
        dataset=dict(type='StanfordCars', data_root=data_root,
                     split='train')))
val_dataloader = dict(
    dataset=dict(type='StanfordCars', data_root=data_root, split='test'))
test_dataloader = val_dataloader
