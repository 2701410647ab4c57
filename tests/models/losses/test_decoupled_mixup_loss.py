"""DecoupledMixupLoss against a naive reference written from the formula."""
import math

import pytest
import torch
import torch.nn.functional as F
from mmpretrain.models.losses import CrossEntropyLoss

from dm_plugin.models.losses import DecoupledMixupLoss


def naive_dm_ce(z, s, eta, lam_weighted=True, pos_thr=1e-3):
    """Mean over rows of MCE + eta * DR, one row and one class at a time."""
    total = 0.
    for zi, si in zip(z.tolist(), s.tolist()):
        background = min(si)
        positives = [c for c, v in enumerate(si) if v - background > pos_thr]
        lse = math.log(sum(math.exp(v) for v in zi))
        mce = -sum(sc * (zc - lse) for sc, zc in zip(si, zi))
        dr = 0.
        if len(positives) >= 2:
            negatives = [c for c in range(len(zi)) if c not in positives]
            for k in positives:
                denom = math.exp(zi[k]) + sum(math.exp(zi[c])
                                              for c in negatives)
                weight = si[k] if lam_weighted else 1.
                dr -= weight * math.log(math.exp(zi[k]) / denom)
        total += mce + eta * dr
    return total / len(s)


def naive_dm_bce(z, s, xi, power, pos_thr=1e-3):
    """Sum over classes, mean over rows, of BCE against rescaled targets."""
    total = 0.
    for zi, si in zip(z.tolist(), s.tolist()):
        background = min(si)
        for zc, sc in zip(zi, si):
            if sc - background > pos_thr:
                y = 1. if sc >= xi else (sc / xi)**power
            else:
                y = 0.
            p = 1 / (1 + math.exp(-zc))
            total -= y * math.log(p) + (1 - y) * math.log(1 - p)
    return total / len(s)


def two_way(labels_a, labels_b, lam, num_classes):
    lam = torch.as_tensor(lam, dtype=torch.float64).reshape(-1, 1)
    a = F.one_hot(torch.tensor(labels_a), num_classes).double()
    b = F.one_hot(torch.tensor(labels_b), num_classes).double()
    return lam * a + (1 - lam) * b


def smooth(scores, eps):
    return (1 - eps) * scores + eps / scores.size(1)


CASES = {
    'two_way': lambda: two_way([0, 1, 2, 3], [4, 2, 0, 1], 0.7, 6),
    'per_sample_lam': lambda: two_way([0, 1, 2, 3], [4, 2, 0, 1],
                                      [0.9, 0.5, 0.3, 0.05], 6),
    'same_class_rows': lambda: two_way([0, 1, 2, 3], [0, 2, 2, 1], 0.6, 6),
    'three_way': lambda: (0.5 * two_way([0, 1, 2], [1, 2, 3], 1., 6) + 0.3 *
                          two_way([1, 2, 3], [0, 0, 0], 1., 6) + 0.2 *
                          two_way([5, 4, 0], [0, 0, 0], 1., 6)),
    'label_smoothed': lambda: smooth(
        two_way([0, 1, 2, 3], [4, 2, 0, 1], [0.8, 0.6, 0.5, 1.], 6), 0.1),
}


@pytest.mark.parametrize('case', sorted(CASES))
@pytest.mark.parametrize('lam_weighted', [True, False])
@pytest.mark.parametrize('max_mixed', [3, None])
def test_ce_matches_naive_reference(case, lam_weighted, max_mixed):
    torch.manual_seed(0)
    scores = CASES[case]()
    logits = 3 * torch.randn(scores.shape, dtype=torch.float64)
    loss = DecoupledMixupLoss(
        eta=0.3, lam_weighted=lam_weighted, max_mixed=max_mixed)
    expected = naive_dm_ce(logits, scores, 0.3, lam_weighted)
    assert loss(logits, scores).item() == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize('case', sorted(CASES))
@pytest.mark.parametrize('xi, power', [(1.0, 1.0), (0.6, 2.0), (0.4, 0.5)])
def test_bce_matches_naive_reference(case, xi, power):
    torch.manual_seed(1)
    scores = CASES[case]()
    logits = 2 * torch.randn(scores.shape, dtype=torch.float64)
    loss = DecoupledMixupLoss(mode='bce', xi=xi, power=power)
    expected = naive_dm_bce(logits, scores, xi, power)
    assert loss(logits, scores, avg_factor=len(scores)).item() == \
        pytest.approx(expected, rel=1e-9)


def test_bce_default_equals_mmpretrain_bce_on_mixup_targets():
    torch.manual_seed(2)
    scores = CASES['per_sample_lam']().float()
    logits = torch.randn(scores.shape)
    ours = DecoupledMixupLoss(mode='bce')(logits, scores, avg_factor=4)
    stock = CrossEntropyLoss(use_sigmoid=True)(logits, scores, avg_factor=4)
    torch.testing.assert_close(ours, stock)


@pytest.mark.parametrize('case', sorted(CASES))
def test_eta_zero_equals_mmpretrain_soft_ce(case):
    torch.manual_seed(3)
    scores = CASES[case]().float()
    logits = torch.randn(scores.shape)
    weight = torch.rand(len(scores))
    stock = CrossEntropyLoss(use_soft=True)
    ours = DecoupledMixupLoss(eta=0.)
    for kwargs in (dict(), dict(weight=weight), dict(avg_factor=7.),
                   dict(reduction_override='none'),
                   dict(reduction_override='sum')):
        torch.testing.assert_close(
            ours(logits, scores, **kwargs), stock(logits, scores, **kwargs))


def test_hard_labels_equal_one_hot_and_have_no_regularizer():
    logits = torch.randn(5, 7)
    labels = torch.tensor([0, 3, 6, 2, 2])
    loss = DecoupledMixupLoss(eta=1.0)
    parts = loss.loss_parts(logits, labels)
    assert parts['dr'].item() == 0.
    torch.testing.assert_close(
        loss(logits, labels), loss(logits, F.one_hot(labels, 7).float()))
    torch.testing.assert_close(
        loss(logits, labels), F.cross_entropy(logits, labels))


def test_same_class_pair_is_plain_ce():
    logits = torch.randn(3, 5)
    scores = two_way([1, 2, 4], [1, 2, 4], [0.3, 0.5, 0.9], 5).float()
    parts = DecoupledMixupLoss(eta=0.5).loss_parts(
        logits, scores, reduction_override='none')
    assert torch.equal(parts['dr'], torch.zeros(3))


def test_regularizer_removes_the_other_mixed_class():
    """A row mixing classes 0 and 1 whose logits are both huge: softmax
    splits the mass, the decoupled softmax gives each class ~1 and DR ~ 0;
    the MCE stays about log 2."""
    logits = torch.tensor([[20., 20., 0., 0.]])
    scores = torch.tensor([[0.5, 0.5, 0., 0.]])
    parts = DecoupledMixupLoss(eta=1.0).loss_parts(logits, scores)
    assert parts['mce'].item() == pytest.approx(math.log(2), rel=1e-4)
    assert parts['dr'].item() < 1e-6


def test_weight_avg_factor_reduction_and_loss_weight():
    torch.manual_seed(4)
    scores = CASES['two_way']().float()
    logits = torch.randn(scores.shape)
    weight = torch.tensor([1., 0., 2., 0.5])
    loss = DecoupledMixupLoss(eta=0.2, loss_weight=3.)
    per_row = loss(logits, scores, reduction_override='none')
    assert per_row.shape == (4, )
    torch.testing.assert_close(
        loss(logits, scores, weight=weight, avg_factor=5.),
        (per_row * weight).sum() / 5.)
    torch.testing.assert_close(
        loss(logits, scores, reduction_override='sum'), per_row.sum())
    torch.testing.assert_close(loss(logits, scores), per_row.mean())
    bce = DecoupledMixupLoss(mode='bce', loss_weight=2.)
    per_elem = bce(logits, scores, reduction_override='none')
    assert per_elem.shape == (4, 6)
    torch.testing.assert_close(
        bce(logits, scores, weight=weight, avg_factor=4),
        (per_elem * weight[:, None]).sum() / 4)


def test_default_max_mixed_is_exact_for_pairs_and_refuses_three_way():
    torch.manual_seed(9)
    scores = CASES['per_sample_lam']()
    logits = torch.randn(scores.shape, dtype=torch.float64)
    assert DecoupledMixupLoss(eta=0.3)(logits, scores).item() == \
        pytest.approx(naive_dm_ce(logits, scores, 0.3), rel=1e-9)
    three_way = CASES['three_way']()
    with pytest.raises(ValueError, match='more than max_mixed=2'):
        DecoupledMixupLoss()(logits[:3], three_way)
    unchecked = DecoupledMixupLoss(check_values=False)
    assert torch.isnan(unchecked(logits[:3], three_way))


def test_overconfident_hard_sample_keeps_precision_in_float32():
    """One mixed class at ~1, the other at 1e-9, negatives at 1e-8: DR needs
    the negatives' mass to full relative precision (no 1 - sum)."""
    logits64 = torch.tensor([[0., -20.7233, -18.4207, -18.4207]],
                            dtype=torch.float64)
    scores = torch.tensor([[0.7, 0.3, 0., 0.]], dtype=torch.float64)
    expected = naive_dm_ce(logits64, scores, 1.)
    got = DecoupledMixupLoss(eta=1.)(logits64.float(), scores.float())
    assert got.item() == pytest.approx(expected, rel=1e-5)


def test_loss_parts_sum_to_forward():
    torch.manual_seed(5)
    scores = CASES['three_way']().float()
    logits = torch.randn(scores.shape)
    loss = DecoupledMixupLoss(eta=0.1, loss_weight=2., max_mixed=3)
    parts = loss.loss_parts(logits, scores)
    assert set(parts) == {'mce', 'dr'}
    torch.testing.assert_close(parts['mce'] + parts['dr'],
                               loss(logits, scores))


@pytest.mark.parametrize('lam_weighted', [True, False])
@pytest.mark.parametrize('mode', ['ce', 'bce'])
def test_gradcheck_float64(mode, lam_weighted):
    torch.manual_seed(6)
    scores = CASES['label_smoothed']()
    logits = torch.randn(scores.shape, dtype=torch.float64,
                         requires_grad=True)
    loss = DecoupledMixupLoss(eta=0.5, mode=mode, lam_weighted=lam_weighted,
                              max_mixed=None, xi=0.7, power=2.)
    assert torch.autograd.gradcheck(lambda z: loss(z, scores), (logits, ))


def test_all_classes_mixed_has_finite_gradient():
    logits = torch.randn(2, 2, requires_grad=True)
    scores = torch.tensor([[0.6, 0.4], [0.3, 0.7]])
    DecoupledMixupLoss(eta=1.)(logits, scores).backward()
    assert torch.isfinite(logits.grad).all()


def test_compiles_fullgraph_forward_and_backward():
    loss = DecoupledMixupLoss(eta=0.1)
    compiled = torch.compile(loss, fullgraph=True, backend='aot_eager')
    torch.manual_seed(7)
    scores = CASES['per_sample_lam']().float()
    logits = torch.randn(scores.shape, requires_grad=True)
    value = compiled(logits, scores)
    value.backward()
    torch.testing.assert_close(value, loss(logits.detach(), scores))
    assert torch.isfinite(logits.grad).all()


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
@pytest.mark.parametrize('mode', ['ce', 'bce'])
def test_finite_in_low_precision_with_large_logits(dtype, mode):
    torch.manual_seed(8)
    scores = CASES['two_way']().float()
    # exp(3e4) overflows fp16, bf16 and fp32 alike; the loss itself fits.
    logits = (3e4 * torch.randn(scores.shape).sign()).to(dtype)
    logits.requires_grad_(True)
    loss = DecoupledMixupLoss(eta=0.1, mode=mode)
    with torch.autocast('cpu', dtype=dtype):
        value = loss(logits, scores)
    assert value.dtype == torch.float32 and torch.isfinite(value)
    value.backward()
    assert torch.isfinite(logits.grad.float()).all()


@pytest.mark.parametrize('kwargs, error, message', [
    (dict(mode='focal'), ValueError, 'unknown mode'),
    (dict(eta=-0.1), ValueError, 'eta must be >= 0'),
    (dict(eta=float('nan')), ValueError, 'eta must be finite'),
    (dict(eta='0.1'), TypeError, 'eta must be a real number'),
    (dict(xi=0.), ValueError, 'xi must be > 0'),
    (dict(xi=1.5), ValueError, 'xi must be <= 1'),
    (dict(power=0), ValueError, 'power must be > 0'),
    (dict(reduction='max'), ValueError, 'unknown reduction'),
    (dict(max_mixed=1), ValueError, 'max_mixed must be >= 2'),
    (dict(max_mixed=2.5), TypeError, 'max_mixed must be an int'),
])
def test_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        DecoupledMixupLoss(**kwargs)


@pytest.mark.parametrize('logits, label, error, message', [
    (torch.randn(4, 5), torch.rand(3, 5), ValueError, 'shape mismatch'),
    (torch.randn(4, 5), torch.rand(4, 6), ValueError,
     'num_classes mismatch'),
    (torch.randn(4, 5), torch.tensor([0, 1, 5, 2]), ValueError,
     'num_classes'),
    (torch.randn(4, 5), torch.tensor([0, -1, 2, 2]), ValueError,
     r'outside \[0, 5\)'),
    (torch.randn(4, 5), torch.tensor([[-.1, 1.1, 0, 0, 0]] * 4), ValueError,
     'non-negative'),
    (torch.randn(4, 5), torch.full((4, 5), float('nan')), ValueError,
     'label scores contain NaN'),
    (torch.tensor([[float('inf'), 0, 0, 0, 0]] * 4), torch.zeros(
        4, dtype=torch.long), ValueError, 'NaN or Inf logits'),
    (torch.randn(4, 5, 2), torch.zeros(4, dtype=torch.long), ValueError,
     r'cls_score must have shape \(N, C\)'),
    (torch.randn(4, 5), torch.zeros(4, 5, 1), ValueError,
     'label must be'),
    (torch.randn(4, 5), torch.zeros(4), TypeError, 'integer tensor'),
    (torch.randint(0, 3, (4, 5)), torch.zeros(4, dtype=torch.long),
     TypeError, 'floating-point'),
])
def test_bad_inputs_name_the_problem(logits, label, error, message):
    with pytest.raises(error, match=message):
        DecoupledMixupLoss()(logits, label)


def test_bad_weight_and_reduction_override():
    loss = DecoupledMixupLoss()
    logits, labels = torch.randn(4, 5), torch.zeros(4, dtype=torch.long)
    with pytest.raises(ValueError, match=r'weight must have shape \(4,\)'):
        loss(logits, labels, weight=torch.ones(3))
    with pytest.raises(ValueError, match='unknown reduction_override'):
        loss(logits, labels, reduction_override='max')
    with pytest.raises(TypeError, match='unexpected arguments'):
        loss(logits, labels, class_weight=[1.] * 5)


def test_targets_with_gradient_are_refused():
    with pytest.raises(ValueError, match='detach'):
        DecoupledMixupLoss()(torch.randn(2, 3),
                             torch.rand(2, 3, requires_grad=True))


def test_value_checks_can_be_turned_off_for_speed():
    logits = torch.tensor([[float('nan'), 0.]])
    loss = DecoupledMixupLoss(check_values=False)
    assert torch.isnan(loss(logits, torch.tensor([0])))
