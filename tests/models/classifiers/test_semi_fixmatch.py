"""FixMatch against its loss written out, its EMA evaluation model and its
argument checks."""
import copy

import pytest
import torch
import torch.nn.functional as F

from dm_plugin.models.classifiers.fixmatch import (pseudo_label_accuracy,
                                                   pseudo_labels)
from semi_helpers import B, U, build, batch, labels_of


def fixmatch_reference(model, inputs, labels, threshold, lambda_u=1.0):
    """FixMatch's loss written out (one forward over all views): CE on
    labeled + masked CE of strong views against hard pseudo-labels of weak
    views, averaged over all unlabeled."""
    logits = model.head(model.extract_feat(inputs))
    logits_x = logits[:B]
    logits_w, logits_s = logits[B:B + U], logits[B + U:]
    probs = torch.softmax(logits_w.detach(), dim=-1)
    max_probs, targets_u = probs.max(dim=-1)
    mask = max_probs.ge(threshold).float()
    loss_x = F.cross_entropy(logits_x, labels, reduction='mean')
    loss_u = (F.cross_entropy(logits_s, targets_u, reduction='none') *
              mask).mean()
    return loss_x + lambda_u * loss_u, loss_x, loss_u, mask


@pytest.mark.parametrize('threshold', [0.0, 0.4, 0.95, 1.0])
def test_loss_is_fixmatch_written_out(threshold):
    torch.manual_seed(0)
    model = build('FixMatch', threshold=threshold, lambda_u=0.7)
    inputs, samples = batch()
    losses = model.loss(inputs, samples)
    assert set(losses) == {'loss_x', 'loss_u', 'mask_ratio', 'pseudo_acc'}
    expected, loss_x, loss_u, mask = fixmatch_reference(
        model, inputs, labels_of(samples), threshold, lambda_u=0.7)
    torch.testing.assert_close(losses['loss_x'] + losses['loss_u'], expected)
    torch.testing.assert_close(losses['loss_x'], loss_x)
    torch.testing.assert_close(losses['loss_u'], 0.7 * loss_u)
    torch.testing.assert_close(losses['mask_ratio'], mask.mean())


def test_without_unlabeled_labels_no_pseudo_accuracy():
    model = build('FixMatch')
    inputs, samples = batch(unlabeled_labels=False)
    assert 'pseudo_acc' not in model.loss(inputs, samples)


@pytest.mark.parametrize('threshold', [0.5, 0.9, 0.99])
def test_pseudo_labels_and_confidence(threshold):
    torch.manual_seed(0)
    logits = torch.randn(200, 4, requires_grad=True) * 3
    labels, confidence = pseudo_labels(logits)
    probs = logits.softmax(dim=-1)
    assert torch.equal(labels, probs.argmax(dim=-1))
    torch.testing.assert_close(confidence, probs.max(dim=-1).values)
    assert not confidence.requires_grad
    mask = confidence >= threshold
    assert 0 < mask.sum() < 200


def test_pseudo_accuracy_counts_kept_known_labels_only():
    pseudo = torch.tensor([0, 1, 2, 0, 1])
    mask = torch.tensor([1., 1., 0., 1., 1.])
    true = torch.tensor([0, 2, 2, -1, 1])
    # kept and known: 0 (right), 1 (wrong), 4 (right); 2 not kept, 3 unknown
    torch.testing.assert_close(
        pseudo_label_accuracy(pseudo, mask, true), torch.tensor(2 / 3))
    torch.testing.assert_close(
        pseudo_label_accuracy(pseudo, torch.zeros(5), true), torch.tensor(0.))


def test_ema_averages_parameters_and_statistics_and_predicts():
    torch.manual_seed(0)
    model = build('FixMatch', ema_momentum=0.9).train()
    for name, value in model.state_dict().items():
        if name.startswith('ema.'):
            assert torch.equal(value, model.state_dict()[name[4:]]), name
    with torch.no_grad():  # the online network moves on
        for param in model.backbone.parameters():
            param.add_(torch.randn_like(param))
        model.backbone.final_norm.running_mean.add_(1.)
    before = copy.deepcopy(model.ema.state_dict())
    online = {k: v.clone() for k, v in model.state_dict().items()}
    model.loss(*batch())
    after = model.ema.state_dict()
    for name, old in before.items():
        if name.endswith('num_batches_tracked'):
            continue
        expected = 0.9 * old + 0.1 * online[name]
        torch.testing.assert_close(after[name], expected, msg=name)
    assert not model.ema.training  # evaluation model

    model.eval()
    inputs = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        expected = model.ema['head'](model.ema['neck'](
            model.ema['backbone'](inputs))).softmax(dim=-1)
    scores = torch.stack([s.pred_score for s in model.predict(inputs)])
    torch.testing.assert_close(scores, expected)


@pytest.mark.parametrize('kwargs, error, message', [
    (dict(threshold=1.5), ValueError, 'threshold'),
    (dict(lambda_u=-1.), ValueError, 'lambda_u'),
    (dict(ema_momentum=1.), ValueError, 'ema_momentum'),
    (dict(train_cfg=dict(augments=dict(type='Mixup', alpha=1.))),
     ValueError, 'batch_augments'),
    (dict(data_preprocessor=dict(
        type='ClsDataPreprocessor',
        batch_augments=dict(augments=dict(type='Mixup', alpha=1.)))),
     ValueError, 'batch_augments'),
])
def test_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        build('FixMatch', init=False, **kwargs)


def test_a_plain_batch_is_refused():
    model = build('FixMatch')
    inputs, samples = batch()
    with pytest.raises(ValueError, match='semi_supervised_collate'):
        model.loss(inputs[:B + 1], samples)
