"""Self-Tuning against OpenMixup's per-sample loops: the pseudo-group
contrastive loss, the class queue, the key encoder and one whole step."""
import copy
import math

import pytest
import torch
import torch.nn.functional as F

from dm_plugin.datasets.semi_supervised import split_semi_supervised_batch
from dm_plugin.models.classifiers.self_tuning import (enqueue_by_class,
                                                      pgc_loss, queue_writes)
from semi_helpers import B, batch, build, labels_of

TEMPERATURE = 0.07


def reference_pgc(query, key, queue, labels, temperature=TEMPERATURE):
    """OpenMixup's forward_pgc + KLDivLoss(batchmean): per row, logits
    [q.k, q.(own class's queue), q.(other classes' queues)] / T; target
    uniform over the first Q + 1."""
    num_classes, size, dim = queue.shape
    flat = queue.reshape(-1, dim).t()  # OpenMixup's (dim, C * Q) layout
    rows = []
    for i in range(query.size(0)):
        c = int(labels[i])
        own = flat[:, c * size:(c + 1) * size]
        others = torch.cat([flat[:, :c * size], flat[:, (c + 1) * size:]], 1)
        rows.append(torch.cat([(query[i] * key[i]).sum()[None],
                               query[i] @ own, query[i] @ others]))
    log_prob = F.log_softmax(torch.stack(rows) / temperature, dim=1)
    target = torch.zeros_like(log_prob)
    target[:, :size + 1] = 1 / (size + 1)
    return torch.nn.KLDivLoss(reduction='batchmean')(log_prob, target)


def reference_enqueue(queue, pointer, keys, labels):
    """OpenMixup's _dequeue_and_enqueue, called for one key at a time."""
    size = queue.size(1)
    for key, c in zip(keys, labels.tolist()):
        queue[c, int(pointer[c])] = key
        pointer[c] = (pointer[c] + 1) % size


def unit(*shape, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(*shape, generator=generator), dim=-1)


@pytest.mark.parametrize('labels', [[0, 1, 2, 1, 0, 2], [2, 2, 2, 2, 2, 2]])
def test_pgc_loss_matches_the_per_row_reference(labels):
    labels = torch.tensor(labels)
    query, key = unit(6, 5, seed=1), unit(6, 5, seed=2)
    queue = unit(3, 4, 5, seed=3)
    torch.testing.assert_close(
        pgc_loss(query, key, queue, labels, TEMPERATURE),
        reference_pgc(query, key, queue, labels))


def test_pgc_loss_is_zero_for_a_perfect_group():
    """All positives equal and far above the negatives: the softmax is the
    uniform target, KL 0."""
    queue = torch.zeros(2, 3, 2)
    queue[0, :, 0] = 1.
    queue[1, :, 1] = 1.
    query = key = torch.tensor([[1., 0.]])
    loss = pgc_loss(query, key, queue, torch.tensor([0]), temperature=1e-3)
    assert loss.abs() < 1e-6
    assert math.isfinite(float(loss))


@pytest.mark.parametrize('labels, pointer', [
    ([0, 1, 0, 2], [0, 0, 0]),
    ([1, 1, 1, 1, 1, 1, 1], [2, 0, 0]),  # 7 keys of a class with 3 slots
    ([2, 0, 2, 2, 0, 2], [1, 2, 0]),  # the pointers wrap around
])
def test_enqueue_matches_the_sequential_loop(labels, pointer):
    labels = torch.tensor(labels)
    keys = unit(labels.numel(), 5, seed=4)
    queue = unit(3, 3, 5, seed=5)
    expected_queue = queue.clone()
    pointer = torch.tensor(pointer)
    expected_pointer = pointer.clone()
    reference_enqueue(expected_queue, expected_pointer, keys, labels)
    slot, source, _ = queue_writes(pointer, labels, 3)
    enqueue_by_class(queue, pointer, keys, labels)
    torch.testing.assert_close(queue, expected_queue)
    assert pointer.tolist() == expected_pointer.tolist()
    # Keys bound for one slot all carry the value of the last of them, so
    # the result does not depend on the order of the writes (on a GPU).
    for i in range(labels.numel()):
        same = [j for j in range(labels.numel())
                if labels[j] == labels[i] and slot[j] == slot[i]]
        assert source[i] == max(same)


def test_one_step_matches_openmixups_order_of_operations():
    """Labeled PGC (true labels, then their keys are queued), CE, unlabeled
    PGC with argmax pseudo-labels against the updated queue; the key
    encoder takes an EMA step before each group of keys."""
    torch.manual_seed(0)
    model = build('SelfTuning', momentum=0.9, queue_size=4).train()
    with torch.no_grad():  # make the online and key encoders differ
        for param in model.backbone.parameters():
            param.add_(0.1 * torch.randn_like(param))
    reference = copy.deepcopy(model)
    inputs, samples = batch(views=2)
    losses = model.loss(inputs, samples)

    labels = labels_of(samples)
    (lq, lk), uq, uk = split_semi_supervised_batch(inputs, B, 2)
    queue = reference.queue.clone()
    pointer = reference.queue_pointer.clone()
    parts = reference.encoder_parts()

    def keys(images):
        with torch.no_grad():
            for name, target in reference.key_encoder.items():
                for t, s in zip(target.parameters(),
                                parts[name].parameters()):
                    t.mul_(0.9).add_(0.1 * s)
            feats = reference.key_encoder['neck'](
                reference.key_encoder['backbone'](images))
            return F.normalize(
                reference.key_encoder['projector'](feats)[0], dim=1)

    def query(images):
        feats = reference.extract_feat(images)
        return feats, F.normalize(reference.projector(feats)[0], dim=1)

    feats, q = query(lq)
    k = keys(lk)
    torch.testing.assert_close(losses['loss_pgc_l'],
                               reference_pgc(q, k, queue, labels))
    reference_enqueue(queue, pointer, k, labels)
    torch.testing.assert_close(
        losses['loss_cls'], F.cross_entropy(reference.head(feats), labels))
    feats, q = query(uq)
    pseudo = reference.head(feats).argmax(dim=1)
    k = keys(uk)
    torch.testing.assert_close(losses['loss_pgc_u'],
                               reference_pgc(q, k, queue, pseudo))
    reference_enqueue(queue, pointer, k, pseudo)
    torch.testing.assert_close(model.queue, queue)
    assert model.queue_pointer.tolist() == pointer.tolist()
    for (name, param), expected in zip(
            model.key_encoder.named_parameters(),
            reference.key_encoder.parameters()):
        torch.testing.assert_close(param, expected, msg=name)
    true = torch.cat([s.unlabeled_gt_label for s in samples])
    torch.testing.assert_close(losses['pseudo_acc'],
                               (pseudo == true).float().mean())


def test_gradients_reach_the_network_but_not_the_key_encoder():
    torch.manual_seed(0)
    model = build('SelfTuning').train()
    losses = model.loss(*batch(views=2))
    assert set(losses) == {'loss_pgc_l', 'loss_cls', 'loss_pgc_u',
                           'pseudo_acc'}
    sum(v for k, v in losses.items() if k.startswith('loss')).backward()
    for part in (model.backbone, model.head, model.projector):
        assert all(p.grad is not None for p in part.parameters())
    assert all(not p.requires_grad for p in model.key_encoder.parameters())
    model.eval()
    inputs = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        expected = model.head(model.extract_feat(inputs)).softmax(dim=-1)
    scores = torch.stack([s.pred_score for s in model.predict(inputs)])
    torch.testing.assert_close(scores, expected)  # the online network


def test_queue_size_follows_the_projector_and_the_head():
    model = build('SelfTuning', queue_size=5, init=False)
    assert model.queue.shape == (3, 5, 16)
    torch.testing.assert_close(model.queue.norm(dim=-1), torch.ones(3, 5))
    assert model.queue_pointer.tolist() == [0, 0, 0]


@pytest.mark.parametrize('kwargs, error, message', [
    (dict(projector=None), TypeError, 'projector'),
    (dict(projector=dict(type='GlobalAveragePooling')), ValueError,
     'nn.Linear'),
    (dict(queue_size=0), ValueError, 'queue_size'),
    (dict(temperature=0.), ValueError, 'temperature'),
    (dict(momentum=1.5), ValueError, 'momentum'),
])
def test_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        build('SelfTuning', init=False, **kwargs)


def test_a_single_view_batch_is_refused():
    model = build('SelfTuning')
    with pytest.raises(ValueError, match='labeled_views=2'):
        model.loss(*batch(views=1))
