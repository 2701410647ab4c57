import pytest
import torch
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from dm_plugin.models.utils import attach_scores


def mixed_samples(scores):
    samples = [DataSample().set_gt_label(0) for _ in range(len(scores))]
    attach_scores(samples, scores)
    return samples


def test_logs_mce_and_dr_whose_sum_is_the_dm_loss():
    torch.manual_seed(0)
    head = MODELS.build(
        dict(type='DMClsHead', num_classes=4, in_channels=8))
    feats = (torch.randn(6, 8), )
    lam = torch.rand(6, 1)
    scores = lam * torch.eye(4)[[0, 1, 2, 3, 0, 1]] + \
        (1 - lam) * torch.eye(4)[[1, 2, 3, 0, 2, 1]]
    losses = head.loss(feats, mixed_samples(scores))
    assert set(losses) == {'loss_mce', 'loss_dr'}
    expected = head.loss_module(head(feats), scores)
    torch.testing.assert_close(losses['loss_mce'] + losses['loss_dr'],
                               expected)


def test_hard_labels_and_bce_mode():
    head = MODELS.build(
        dict(
            type='DMClsHead',
            num_classes=3,
            in_channels=8,
            loss=dict(type='DecoupledMixupLoss', mode='bce')))
    samples = [DataSample().set_gt_label(i) for i in (0, 1, 2)]
    losses = head.loss((torch.randn(3, 8), ), samples)
    assert set(losses) == {'loss_bce'}
    assert losses['loss_bce'].ndim == 0


def test_predict_matches_linear_head():
    torch.manual_seed(1)
    head = MODELS.build(dict(type='DMClsHead', num_classes=5, in_channels=8))
    feats = (torch.randn(2, 8), )
    preds = head.predict(feats)
    torch.testing.assert_close(
        torch.stack([p.pred_score for p in preds]),
        head(feats).softmax(dim=1))


def test_rejects_losses_without_parts_and_cal_acc():
    with pytest.raises(TypeError, match='loss_parts'):
        MODELS.build(
            dict(type='DMClsHead', num_classes=3, in_channels=8,
                 loss=dict(type='CrossEntropyLoss')))
    with pytest.raises(ValueError, match='cal_acc'):
        MODELS.build(
            dict(type='DMClsHead', num_classes=3, in_channels=8,
                 cal_acc=True))
