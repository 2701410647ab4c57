"""The pairing rules of DMixMatch and DMixTuning: which pairs mix, the λ
bias, dropping unconfident partners, and when the L-U term trains what."""
import pytest
import torch
import torch.nn.functional as F

from dm_plugin.models.classifiers.dmixmatch import partner_keep_mask
from dm_plugin.models.classifiers.semi_mixing import sample_mix_ratio
from semi_helpers import B, MU, NUM_CLASSES, U, build, dm_row, set_progress


def draws(alpha, bias, num=20000):
    torch.manual_seed(0)
    return torch.stack([sample_mix_ratio(alpha, bias, torch.device('cpu'))
                        for _ in range(num)])


def test_lam_biased_to_the_labeled_side():
    """max(lam, 1 - lam) of lam ~ Beta(1, 1) is uniform on [0.5, 1]."""
    lam = draws(1.0, 'labeled')
    assert lam.min() >= 0.5 and lam.max() <= 1
    assert abs(lam.mean() - 0.75) < 0.005
    quartiles = torch.quantile(lam, torch.tensor([0.25, 0.5, 0.75]))
    torch.testing.assert_close(quartiles, torch.tensor([0.625, 0.75, 0.875]),
                               atol=0.01, rtol=0)


def test_lam_bias_to_the_unlabeled_side_and_none():
    assert draws(1.0, 'unlabeled', 2000).max() <= 0.5
    lam = draws(1.0, 'none')
    assert abs(lam.mean() - 0.5) < 0.01
    assert (lam < 0.5).float().mean().sub(0.5).abs() < 0.02


def test_small_alpha_puts_the_labeled_side_near_one():
    lam = draws(0.2, 'labeled', 5000)
    assert lam.min() >= 0.5 and lam.median() > 0.9


@pytest.mark.parametrize('lam, mix_threshold, cutoff', [
    (0.7, 0.95, 0.95),  # labeled side: 1 - lam < 0.95, cutoff mix_threshold
    (0.7, 0.5, 0.5),
    (0.2, 0.5, 0.8),  # unlabeled side: 1 - lam above mix_threshold
    (0.01, 0.5, 0.95),  # ... but never above threshold
])
def test_partner_keep_mask(lam, mix_threshold, cutoff):
    confidence = torch.tensor([0.3, 0.5, 0.6, 0.8, 0.94, 0.95, 0.99, 1.0])
    keep = partner_keep_mask(confidence, torch.tensor(lam), 0.95,
                             mix_threshold)
    assert keep.dtype == torch.float32
    torch.testing.assert_close(keep, (confidence >= cutoff - 1e-7).float())


def lu_inputs(seed=0):
    generator = torch.Generator().manual_seed(seed)
    labeled = torch.randn(B, 3, 8, 8, generator=generator)
    weak = torch.randn(U, 3, 8, 8, generator=generator)
    labels = torch.tensor([0, 1, 2, 0])
    pseudo = torch.tensor([1, 0, 2, 2, 0, 1, 1, 2])
    #                      i=0     i=1     i=2     i=3   (partner = i * MU)
    confidence = torch.tensor([0.99, 0.2, 0.3, 0.99, 0.96, 0.99, 0.5, 0.3])
    return labeled, weak, labels, pseudo, confidence


def reference_lu(model, labeled, partners, labels, pseudo, keep, lam):
    """Per-pair loop: mixed image, mixed target, DM (eta 1), weighted,
    averaged over all pairs."""
    total = 0.
    for i in range(labels.numel()):
        mixed = lam * labeled[i] + (1 - lam) * partners[i]
        logits = model.mix_head(model.extract_feat(mixed[None]))[0]
        score = lam * F.one_hot(labels[i], NUM_CLASSES).float() + \
            (1 - lam) * F.one_hot(pseudo[i], NUM_CLASSES).float()
        total = total + keep[i] * dm_row(logits, score, eta=1.0)
    return total / labels.numel()


def test_dmixmatch_mixes_each_labeled_image_with_its_items_partner():
    torch.manual_seed(0)
    model = build('DMixMatch').eval()  # running BN stats: rows independent
    labeled, weak, labels, pseudo, confidence = lu_inputs()
    lam = torch.tensor(0.7)
    model.sample_lam = lambda device: lam
    loss = model.mixed_partner_loss(labeled, weak, labels, pseudo,
                                    confidence, weight=1.0)
    partners = torch.arange(B) * MU  # weak views 0, 2, 4, 6
    keep = (confidence[partners] >= 0.95).float()
    assert keep.tolist() == [1., 0., 1., 0.]  # unconfident partners dropped
    expected = reference_lu(model, labeled, weak[partners], labels,
                            pseudo[partners], keep, lam)
    torch.testing.assert_close(loss, expected)
    # Another pairing (each with the item's second unlabeled image) differs.
    other = reference_lu(model, labeled, weak[partners + 1], labels,
                         pseudo[partners + 1], keep, lam)
    assert not torch.allclose(loss, other)


def test_dropped_pairs_give_no_gradient_and_count_in_the_mean():
    torch.manual_seed(0)
    model = build('DMixMatch').eval()
    labeled, weak, labels, pseudo, _ = lu_inputs()
    labeled.requires_grad_()
    model.sample_lam = lambda device: torch.tensor(0.8)
    confidence = torch.tensor([0.99, 0, 0, 0, 0, 0, 0, 0])  # keep pair 0
    loss = model.mixed_partner_loss(labeled, weak, labels, pseudo,
                                    confidence, weight=1.0)
    loss.backward()
    grads = labeled.grad.flatten(1).abs().sum(dim=1)
    assert grads[0] > 0 and (grads[1:] == 0).all()
    single = reference_lu(model, labeled[:1].detach(), weak[:1],
                          labels[:1], pseudo[:1], torch.ones(1),
                          torch.tensor(0.8))
    torch.testing.assert_close(loss, single / B)  # averaged over all B


def test_weight_cut_offs_of_the_lu_term():
    torch.manual_seed(0)
    model = build('DMixMatch')
    labeled, weak, labels, pseudo, confidence = lu_inputs()
    calls = []
    model.sample_lam = lambda device: calls.append(1) or torch.tensor(0.7)
    skipped = model.mixed_partner_loss(labeled, weak, labels, pseudo,
                                       confidence, weight=1e-5)
    assert skipped == 0 and not calls  # skipped: nothing drawn or computed

    model.zero_grad()
    model.mixed_partner_loss(labeled, weak, labels, pseudo, confidence,
                             weight=5e-4).backward()
    assert model.mix_head.fc.weight.grad.abs().sum() > 0
    assert all(p.grad is None or p.grad.abs().sum() == 0
               for p in model.backbone.parameters())  # mix head only

    model.zero_grad()
    model.mixed_partner_loss(labeled, weak, labels, pseudo, confidence,
                             weight=1e-3).backward()
    assert model.backbone.stem.weight.grad.abs().sum() > 0


def test_labeled_pairs_mix_with_a_permutation_of_the_labeled_batch(
        monkeypatch):
    torch.manual_seed(0)
    model = build('DMixMatch').eval()
    labeled, _, labels, _, _ = lu_inputs()
    lam = torch.tensor(0.65)
    model.sample_lam = lambda device: lam
    order = torch.tensor([2, 0, 3, 1])
    monkeypatch.setattr(torch, 'randperm', lambda n, device=None: order)
    loss = model.labeled_mixup_loss(labeled, labels)
    expected = reference_lu(model, labeled, labeled[order], labels,
                            labels[order], torch.ones(B), lam)
    torch.testing.assert_close(loss, expected)


def test_dmix_tuning_keeps_every_pair_with_its_items_partner():
    """DMixTuning: the partner is the item's first unlabeled query view and
    no pair is dropped (Self-Tuning's pseudo-labels have no threshold)."""
    torch.manual_seed(0)
    model = build('DMixTuning').eval()
    labeled, unlabeled, labels, pseudo, _ = lu_inputs()
    lam = torch.tensor(0.9)
    model.sample_lam = lambda device: lam
    # Self-Tuning's part replaced by its outputs: what DMixTuning mixes.
    model.self_tuning_losses = lambda inputs, samples: (
        {}, (labeled, labels, unlabeled, pseudo))
    set_progress(50, 100)
    losses = model.loss(torch.zeros(1), [None] * B)
    partners = torch.arange(B) * MU
    expected = reference_lu(model, labeled, unlabeled[partners], labels,
                            pseudo[partners], torch.ones(B), lam)
    torch.testing.assert_close(losses['loss_mix_lu'],
                               losses['lu_weight'] * expected)
    other = reference_lu(model, labeled, unlabeled[partners + 1], labels,
                         pseudo[partners + 1], torch.ones(B), lam)
    assert not torch.allclose(losses['loss_mix_lu'],
                              losses['lu_weight'] * other)
