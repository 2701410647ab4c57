import pytest
import torch
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from dm_plugin.models.utils import attach_scores


def mixed_samples(scores):
    samples = [DataSample().set_gt_label(0) for _ in range(len(scores))]
    attach_scores(samples, scores)
    return samples


def naive_mce_and_dr(logits, scores, lam_power, decouple):
    """Mean MCE and mean DR (two-way rows), one row at a time."""
    mce, dr = [], []
    for z, s in zip(logits.double(), scores.double()):
        mce.append(-(s * z.log_softmax(0)).sum())
        mixed = (s > 1e-3).nonzero().flatten().tolist()
        negatives = z[s <= 1e-3]
        row = z.new_zeros(())
        if len(mixed) == 2:
            for k in mixed:
                major = s[k] == s[mixed].max()
                if decouple == 'minor' and major:
                    continue
                decoupled = torch.cat([z[k:k + 1], negatives]).log_softmax(0)
                row = row - s[k]**lam_power * decoupled[0]
        dr.append(row)
    return torch.stack(mce).mean(), torch.stack(dr).mean()


@pytest.mark.parametrize('loss, lam_power, decouple', [
    (dict(type='DecoupledMixupLoss', eta=0.1), 1., 'both'),
    (dict(type='DecoupledMixupLoss', eta=0.1, decouple='minor',
          lam_power=0.5), 0.5, 'minor'),
])
def test_logs_mce_and_dr_of_the_configured_loss(loss, lam_power, decouple):
    torch.manual_seed(0)
    head = MODELS.build(
        dict(type='DMClsHead', num_classes=4, in_channels=8, loss=loss))
    feats = (torch.randn(6, 8), )
    lam = torch.rand(6, 1)
    scores = lam * torch.eye(4)[[0, 1, 2, 3, 0, 1]] + \
        (1 - lam) * torch.eye(4)[[1, 2, 3, 0, 2, 1]]
    losses = head.loss(feats, mixed_samples(scores))
    assert set(losses) == {'loss_mce', 'loss_dr'}
    mce, dr = naive_mce_and_dr(head(feats), scores, lam_power, decouple)
    torch.testing.assert_close(losses['loss_mce'].double(), mce)
    torch.testing.assert_close(losses['loss_dr'].double(), 0.1 * dr)


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


def test_predict_is_the_softmax_of_the_linear_layer():
    torch.manual_seed(1)
    head = MODELS.build(dict(type='DMClsHead', num_classes=5, in_channels=8))
    feats = (torch.randn(2, 8), )
    preds = head.predict(feats)
    logits = feats[0] @ head.fc.weight.T + head.fc.bias
    torch.testing.assert_close(
        torch.stack([p.pred_score for p in preds]), logits.softmax(dim=1))
    assert [p.pred_label.item() for p in preds] == \
        logits.argmax(1).tolist()


def test_rejects_losses_without_parts_and_cal_acc():
    with pytest.raises(TypeError, match='loss_parts'):
        MODELS.build(
            dict(type='DMClsHead', num_classes=3, in_channels=8,
                 loss=dict(type='CrossEntropyLoss')))
    with pytest.raises(ValueError, match='cal_acc'):
        MODELS.build(
            dict(type='DMClsHead', num_classes=3, in_channels=8,
                 cal_acc=True))
