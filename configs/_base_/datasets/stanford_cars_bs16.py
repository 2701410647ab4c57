# Stanford Cars (StanfordCarsDataset), 196 classes, 8,144 training and
# 8,041 test images, in the devkit layout (cars_train/, cars_test/, devkit/,
# cars_test_annos_withlabels.mat) or as an ImageFolder export (train/<class>/,
# test/<class>/) under data_root. Nothing is downloaded.
_base_ = './finegrained_bs16.py'
dataset_type = 'StanfordCarsDataset'
data_root = 'data/stanford_cars'  # devkit or ImageFolder layout
data_preprocessor = dict(num_classes=196)
train_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, split='train'))
val_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, split='test'))
test_dataloader = val_dataloader
