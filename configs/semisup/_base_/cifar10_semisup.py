# CIFAR-10 for FixMatch and DMixMatch (CheckedCIFAR10: the official python
# archive extracted under data/cifar10, i.e. cifar-10-batches-py/; a missing
# or mismatching file is named and nothing is downloaded): 64 labeled and
# 7 x 64 unlabeled images a step, the unlabeled ones drawn from the whole
# training set (labeled images included), as in FixMatch's reference code
# and OpenMixup's CIFAR configs.
# Views as FixMatch's reference code makes them (augment 'd.d.rac'): weak =
# horizontal flip + 4-pixel reflect-padded crop (its augment_shift pads with
# tf.pad(mode='REFLECT')), for labeled images and the unlabeled weak view;
# strong = the same, then FixMatch's RandAugment with random magnitudes and a
# 16x16 Cutout (FixMatchRandAugment). mmpretrain's RandomCrop fills `padding`
# with zeros whatever padding_mode says, but pad_if_needed follows
# padding_mode: so the crop reflect-pads to 40x40, then crops 32x32 at a
# uniform offset (reflect_crop).
# Normalisation: CIFAR-10 statistics (OpenMixup's), on RGB arrays.
num_classes = 10
data_root = 'data/cifar10'
data_preprocessor = dict(
    type='ClsDataPreprocessor',
    num_classes=num_classes,
    mean=[125.307, 122.961, 113.8575],
    std=[51.5865, 50.847, 51.255],
    to_rgb=False)

reflect_crop = [
    dict(type='RandomCrop', crop_size=40, pad_if_needed=True,
         padding_mode='reflect'),
    dict(type='RandomCrop', crop_size=32),
]
weak_pipeline = [
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    *reflect_crop,
    dict(type='PackInputs'),
]
strong_pipeline = [
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    *reflect_crop,
    dict(type='FixMatchRandAugment', num_ops=2, max_level=10, op_prob=0.5,
         cutout=16),
    dict(type='PackInputs'),
]

# No persistent_workers: they cannot be combined with num_workers=0 (as in
# --cfg-options train_dataloader.num_workers=0), and an InfiniteSampler
# keeps its workers for the whole run anyway.
train_dataloader = dict(
    batch_size=64,  # labeled images; each brings mu unlabeled ones
    num_workers=8,
    pin_memory=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='semi_supervised_collate'),
    dataset=dict(
        type='SemiSupervisedDataset',
        dataset=dict(
            type='CheckedCIFAR10', data_root=data_root, split='train',
            pipeline=[]),
        labeled_per_class=25,
        mu=7,
        unlabeled_pool='all',
        split_seed=0,
        split_file=None,
        weak_pipeline=weak_pipeline,
        strong_pipeline=strong_pipeline),
)
val_dataloader = dict(
    batch_size=256,
    num_workers=4,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='CheckedCIFAR10',
        data_root=data_root,
        split='test',
        pipeline=[dict(type='PackInputs')]),
)
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_dataloader = val_dataloader
test_evaluator = val_evaluator
