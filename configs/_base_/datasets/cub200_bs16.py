# CUB-200-2011 with mmpretrain's CUB (images.txt, image_class_labels.txt,
# train_test_split.txt and images/ under data_root), 5,994 training and
# 5,794 test images of 200 bird species. Nothing is downloaded.
_base_ = './finegrained_bs16.py'
dataset_type = 'CUB'
data_root = 'data/CUB_200_2011'  # images.txt, images/, ...
data_preprocessor = dict(num_classes=200)
train_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, split='train'))
val_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, split='test'))
test_dataloader = val_dataloader
