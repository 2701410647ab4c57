"""BatchTransformPreprocessor: ClsDataPreprocessor's normalisation, batch
transforms in training only, torch's seeded generator, independent draws
per rank with equal generator states (resume and distributed runs:
tests/reliability/test_fast_path.py)."""
import copy

import pytest
import torch
from mmpretrain.models import ClsDataPreprocessor
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from dm_plugin.models.data_preprocessors import batch_transform_preprocessor

MEAN, STD = [120., 110., 100.], [60., 50., 40.]
TRANSFORMS = [
    dict(type='RandomCrop', crop_size=16, padding=2),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
]


def preprocessor(**kwargs):
    return MODELS.build(dict(type='BatchTransformPreprocessor', mean=MEAN,
                             std=STD, **kwargs))


def cached_batch(batch=6, seed=0):
    generator = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (batch, 16, 16, 3), dtype=torch.uint8,
                           generator=generator).permute(0, 3, 1, 2)
    return dict(inputs=images, gt_label=torch.arange(batch) % 3)


def test_evaluation_normalises_like_cls_data_preprocessor():
    batch = cached_batch()
    out = preprocessor(transforms=TRANSFORMS)(batch, training=False)
    stock = ClsDataPreprocessor(mean=MEAN, std=STD, to_rgb=True)
    bgr = [image.flip(0) for image in batch['inputs']]  # as files decode
    samples = [DataSample().set_gt_label(int(y)) for y in batch['gt_label']]
    expected = stock(dict(inputs=bgr, data_samples=samples), False)
    torch.testing.assert_close(out['inputs'], expected['inputs'],
                               rtol=0, atol=1e-6)
    assert out['inputs'].is_contiguous()
    assert [int(s.gt_label) for s in out['data_samples']] == [
        0, 1, 2, 0, 1, 2]
    # mmpretrain's batch layout (a list of BGR images + data samples)
    stock_layout = preprocessor(to_rgb=True)(
        dict(inputs=bgr, data_samples=copy.deepcopy(samples)), False)
    torch.testing.assert_close(stock_layout['inputs'], expected['inputs'])


def test_training_transforms_draw_from_torchs_seeded_generator():
    transform = preprocessor(transforms=TRANSFORMS)
    batch = cached_batch()
    torch.manual_seed(3)
    first = transform(batch, training=True)['inputs']
    torch.manual_seed(3)
    again = transform(batch, training=True)['inputs']
    other = transform(batch, training=True)['inputs']
    assert torch.equal(first, again) and not torch.equal(first, other)
    plain = transform(batch, training=False)['inputs']
    assert not torch.equal(first, plain)
    resized = preprocessor(transforms=[
        dict(type='RandomResizedCrop', scale=(8, 12))
    ])(batch, training=True)['inputs']
    assert resized.shape == (6, 3, 8, 12)


def test_each_rank_draws_its_own_share(monkeypatch):
    """With 2 ranks every rank draws both ranks' parameters and keeps its own
    row: different crops, the same generator state afterwards."""
    transform = preprocessor(transforms=TRANSFORMS)
    batch, results = cached_batch(), []
    for rank in (0, 1):
        monkeypatch.setattr(batch_transform_preprocessor, 'get_dist_info',
                            lambda rank=rank: (rank, 2))
        torch.manual_seed(0)
        results.append((transform(batch, training=True)['inputs'],
                        torch.get_rng_state()))
    assert not torch.equal(results[0][0], results[1][0])
    assert torch.equal(results[0][1], results[1][1])
    monkeypatch.setattr(batch_transform_preprocessor, 'get_dist_info',
                        lambda: (0, 1))
    torch.manual_seed(0)
    alone = transform(batch, training=True)['inputs']
    assert not torch.equal(torch.get_rng_state(), results[0][1])
    # rank 0's share of a 2-rank draw is the first half of the numbers
    torch.manual_seed(0)
    uniform = torch.rand(2, 6, 2)
    torch.manual_seed(0)
    assert torch.equal(transform.uniform(6, 2, torch.device('cpu')),
                       uniform[0])
    assert alone.shape == results[0][0].shape


def test_stock_image_classifier_with_batch_augments():
    model = MODELS.build(dict(
        type='ImageClassifier',
        data_preprocessor=dict(type='BatchTransformPreprocessor', mean=MEAN,
                               std=STD, num_classes=3, transforms=TRANSFORMS),
        backbone=dict(type='ResNet_CIFAR', depth=18, stem_channels=8,
                      base_channels=8),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=3, in_channels=64,
                  loss=dict(type='CrossEntropyLoss', use_soft=True)),
        train_cfg=dict(augments=dict(type='Mixup', alpha=1.0))))
    data = model.data_preprocessor(cached_batch(), training=True)
    scores = torch.stack([s.gt_score for s in data['data_samples']])
    torch.testing.assert_close(scores.sum(1), torch.ones(6))
    assert (scores.max(1).values < 1).any()  # mixed
    assert torch.isfinite(model.loss(**data)['loss'])


def test_bad_batches_and_arguments_are_named():
    transform = preprocessor()
    with pytest.raises(ValueError, match=r'gt_label \(B,\)'):
        transform(dict(inputs=torch.zeros(2, 3, 4, 4, dtype=torch.uint8),
                       gt_label=torch.zeros(3)))
    with pytest.raises(ValueError, match='differ in size'):
        transform(dict(inputs=[torch.zeros(3, 4, 4), torch.zeros(3, 5, 4)],
                       data_samples=[DataSample(), DataSample()]))
    with pytest.raises(TypeError, match='expects a dict with inputs'):
        transform([torch.zeros(3, 4, 4)])
    with pytest.raises(ValueError, match='mean has 3 channels, std 1'):
        MODELS.build(dict(type='BatchTransformPreprocessor', mean=MEAN,
                          std=[1.]))
    with pytest.raises(ValueError, match='batch_augments need num_classes'):
        preprocessor(batch_augments=dict(augments=dict(type='Mixup',
                                                        alpha=1.)))
    with pytest.raises(KeyError, match='no batch version'):
        preprocessor(transforms=[dict(type='ColorJitter')])
