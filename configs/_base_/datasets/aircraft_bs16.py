# FGVC-Aircraft at the variant level (FGVCAircraftDataset: data/variants.txt,
# data/images_variant_<split>.txt and data/images/ under data_root), 100
# classes; trains on 'trainval' (6,667 images), tests on 'test' (3,333).
# Nothing is downloaded.
_base_ = './finegrained_bs16.py'
dataset_type = 'FGVCAircraftDataset'
data_root = 'data/fgvc-aircraft-2013b'  # holds data/
data_preprocessor = dict(num_classes=100)
train_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, split='trainval'))
val_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, split='test'))
test_dataloader = val_dataloader
