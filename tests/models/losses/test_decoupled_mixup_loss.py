"""DecoupledMixupLoss against naive per-row references written from the
formulas, against mmpretrain's own losses where DM reduces to them, and
against OpenMixup's ``ClsMixupHead`` weighting (the class-order quirk).

``python tests/models/losses/test_decoupled_mixup_loss.py`` prints the
measured effect of that quirk (docs/fidelity.md).
"""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmpretrain.models.losses import CrossEntropyLoss, LabelSmoothLoss

from dm_plugin.models.losses import DecoupledMixupLoss


def log_sum_exp(values):
    top = max(values)
    return top + math.log(math.fsum(math.exp(v - top) for v in values))


def naive_rows(z, s, eta, decouple='both', lam_power=1., lam_thr=1.,
               pos_thr=1e-3):
    """Per row: MCE + eta * DR, one row and one class at a time."""
    rows = []
    for zi, si in zip(z.tolist(), s.tolist()):
        background = min(si)
        positives = [c for c, v in enumerate(si) if v - background > pos_thr]
        negatives = [zi[c] for c in range(len(zi)) if c not in positives]
        lse = log_sum_exp(zi)
        loss = -math.fsum(sc * (zc - lse) for sc, zc in zip(si, zi))
        if len(positives) >= 2:
            top = max(si[k] for k in positives)
            for k in positives:
                is_major = si[k] == top
                if (decouple == 'major' and not is_major) or (
                        decouple == 'minor' and is_major):
                    continue
                weight = 1. if si[k] >= lam_thr else (si[k] /
                                                      lam_thr)**lam_power
                decoupled_lse = log_sum_exp([zi[k]] + negatives)
                loss += eta * weight * (decoupled_lse - zi[k])
        rows.append(loss)
    return rows


def naive_dm_ce(z, s, eta, **kwargs):
    rows = naive_rows(z, s, eta, **kwargs)
    return math.fsum(rows) / len(rows)


def naive_dm_bce(z, s, xi, power, pos_thr=1e-3):
    """Sum over classes, mean over rows, of BCE against rescaled targets;
    non-mixed classes keep the row's background score."""
    total = 0.
    for zi, si in zip(z.tolist(), s.tolist()):
        background = min(si)
        for zc, sc in zip(zi, si):
            if sc - background > pos_thr:
                y = 1. if sc >= xi else (sc / xi)**power
            else:
                y = background
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
# (decouple, lam_power, lam_thr): OpenMixup's settings (both λ-weighted; the
# CIFAR-100 CutMix/Mixup ones) and a threshold below 1.
REGULARIZERS = [('both', 1., 1.), ('both', 0., 1.), ('minor', .5, 1.),
                ('major', .5, 1.), ('major', 2., .6)]


@pytest.mark.parametrize('case', sorted(CASES))
@pytest.mark.parametrize('decouple, lam_power, lam_thr', REGULARIZERS)
def test_ce_matches_naive_reference(case, decouple, lam_power, lam_thr):
    torch.manual_seed(0)
    scores = CASES[case]()
    logits = 3 * torch.randn(scores.shape, dtype=torch.float64)
    loss = DecoupledMixupLoss(
        eta=0.3, decouple=decouple, lam_power=lam_power, lam_thr=lam_thr,
        max_mixed=3 if case == 'three_way' else 2, reduction='none')
    expected = naive_rows(logits, scores, 0.3, decouple=decouple,
                          lam_power=lam_power, lam_thr=lam_thr)
    torch.testing.assert_close(
        loss(logits, scores), torch.tensor(expected, dtype=torch.float64),
        rtol=1e-9, atol=0)


@pytest.mark.parametrize('decouple, lam_power, lam_thr', REGULARIZERS)
def test_ce_matches_naive_reference_with_1001_classes(decouple, lam_power,
                                                      lam_thr):
    """Past 1000 classes the CPU top-k runs on folded scores (targets.py)."""
    torch.manual_seed(0)
    scores = two_way([0, 999, 500, 1000], [1000, 3, 500, 998],
                     [0.7, 0.5, 0.3, 0.9], 1001)
    logits = 3 * torch.randn(scores.shape, dtype=torch.float64)
    loss = DecoupledMixupLoss(eta=0.3, decouple=decouple, lam_power=lam_power,
                              lam_thr=lam_thr, reduction='none')
    expected = naive_rows(logits, scores, 0.3, decouple=decouple,
                          lam_power=lam_power, lam_thr=lam_thr)
    torch.testing.assert_close(
        loss(logits, scores), torch.tensor(expected, dtype=torch.float64),
        rtol=1e-9, atol=0)


@pytest.mark.parametrize('lam_weighted, lam_power', [(True, 1.), (False, 0.)])
def test_lam_weighted_is_shorthand_for_lam_power(lam_weighted, lam_power):
    torch.manual_seed(1)
    scores = CASES['per_sample_lam']()
    logits = torch.randn(scores.shape, dtype=torch.float64)
    expected = naive_dm_ce(logits, scores, 0.5, lam_power=lam_power)
    got = DecoupledMixupLoss(eta=0.5, lam_weighted=lam_weighted)
    assert got(logits, scores).item() == pytest.approx(expected, rel=1e-9)


def test_tied_scores_are_all_major():
    """λ = 0.5: 'major' decouples both classes, 'minor' neither."""
    torch.manual_seed(2)
    scores = two_way([0, 1], [2, 3], 0.5, 5)
    logits = torch.randn(scores.shape, dtype=torch.float64)
    major = DecoupledMixupLoss(eta=1., decouple='major').loss_parts(
        logits, scores)
    both = DecoupledMixupLoss(eta=1.).loss_parts(logits, scores)
    minor = DecoupledMixupLoss(eta=1., decouple='minor').loss_parts(
        logits, scores)
    torch.testing.assert_close(major['dr'], both['dr'])
    assert minor['dr'].item() == 0.
    assert major['dr'].item() > 0.


def test_max_mixed_none_equals_gathered_pairs():
    torch.manual_seed(3)
    scores = CASES['label_smoothed']()
    logits = torch.randn(scores.shape, dtype=torch.float64)
    for decouple in ('both', 'major', 'minor'):
        gathered = DecoupledMixupLoss(decouple=decouple, lam_power=.5)
        dense = DecoupledMixupLoss(decouple=decouple, lam_power=.5,
                                   max_mixed=None)
        torch.testing.assert_close(gathered(logits, scores),
                                   dense(logits, scores))


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


@pytest.mark.parametrize('stock_args, our_args', [
    (dict(mode='original'), dict(mode='original')),
    (dict(mode='classy_vision'), dict(mode='classy_vision')),
    (dict(mode='multi_label'), dict(mode='multi_label')),
    (dict(mode='original', use_sigmoid=True), dict(use_sigmoid=True)),
])
@pytest.mark.parametrize('labels', ['indices', 'mixed'])
def test_label_smoothing_equals_mmpretrain_label_smooth_loss(
        stock_args, our_args, labels):
    """With eta 0 (CE) or xi = power = 1 (BCE), smoothing the targets as
    LabelSmoothLoss does gives exactly LabelSmoothLoss."""
    torch.manual_seed(4)
    target = torch.tensor([0, 3, 5, 2]) if labels == 'indices' else \
        CASES['per_sample_lam']().float()
    logits = torch.randn(4, 6)
    stock = LabelSmoothLoss(label_smooth_val=0.2, **stock_args)
    ours = DecoupledMixupLoss(eta=0., label_smooth_val=0.2, **our_args)
    torch.testing.assert_close(
        ours(logits, target, avg_factor=4), stock(logits, target,
                                                  avg_factor=4))


def test_label_smoothing_keeps_the_mixed_classes_above_the_background():
    """DR on smoothed targets is DR of the same mixed classes, weighted by
    their smoothed scores."""
    torch.manual_seed(5)
    scores = CASES['per_sample_lam']()
    logits = torch.randn(scores.shape, dtype=torch.float64)
    loss = DecoupledMixupLoss(eta=0.4, label_smooth_val=0.1)
    expected = naive_dm_ce(logits, smooth(scores, 0.1), 0.4)
    assert loss(logits, scores).item() == pytest.approx(expected, rel=1e-9)


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
    """Every reduction against the naive per-row losses, scaled by
    loss_weight on one side only."""
    torch.manual_seed(4)
    scores = CASES['two_way']()
    logits = torch.randn(scores.shape, dtype=torch.float64)
    weight = torch.tensor([1., 0., 2., 0.5], dtype=torch.float64)
    rows = torch.tensor(naive_rows(logits, scores, 0.2), dtype=torch.float64)
    loss = DecoupledMixupLoss(eta=0.2, loss_weight=3.)
    torch.testing.assert_close(
        loss(logits, scores, reduction_override='none'), 3 * rows)
    torch.testing.assert_close(
        loss(logits, scores, weight=weight, avg_factor=5.),
        3 * (rows * weight).sum() / 5.)
    torch.testing.assert_close(
        loss(logits, scores, reduction_override='sum'), 3 * rows.sum())
    torch.testing.assert_close(loss(logits, scores), 3 * rows.mean())
    parts = loss.loss_parts(logits, scores)
    torch.testing.assert_close(parts['mce'] + parts['dr'], 3 * rows.mean())
    bce = DecoupledMixupLoss(mode='bce', loss_weight=2.)
    per_elem = bce(logits, scores, reduction_override='none')
    assert per_elem.shape == (4, 6)
    expected = 2 * naive_dm_bce(logits, scores, 1., 1.)
    assert bce(logits, scores, avg_factor=4).item() == pytest.approx(
        expected, rel=1e-9)
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


@pytest.mark.parametrize('decouple', ['both', 'major', 'minor'])
@pytest.mark.parametrize('lam_power', [1., 0.])
def test_gradcheck_default_path_float64(decouple, lam_power):
    """The fused backward of the default (max_mixed=2) path."""
    torch.manual_seed(6)
    scores = torch.cat([CASES['per_sample_lam'](), CASES['label_smoothed'](),
                        CASES['same_class_rows']()])
    logits = torch.randn(scores.shape, dtype=torch.float64,
                         requires_grad=True)
    loss = DecoupledMixupLoss(eta=0.5, decouple=decouple,
                              lam_power=lam_power, lam_thr=0.8)
    assert torch.autograd.gradcheck(lambda z: loss(z, scores), (logits, ))
    # The per-term gradients too (DMClsHead backpropagates their sum).
    assert torch.autograd.gradcheck(
        lambda z: loss.loss_parts(z, scores)['dr'], (logits, ))


@pytest.mark.parametrize('mode', ['ce', 'bce'])
def test_gradcheck_any_number_of_mixed_classes(mode):
    torch.manual_seed(6)
    scores = CASES['three_way']()
    logits = torch.randn(scores.shape, dtype=torch.float64,
                         requires_grad=True)
    loss = DecoupledMixupLoss(eta=0.5, mode=mode, max_mixed=None, xi=0.7,
                              power=2.)
    assert torch.autograd.gradcheck(lambda z: loss(z, scores), (logits, ))


def test_all_classes_mixed_has_finite_gradient():
    logits = torch.randn(2, 2, requires_grad=True)
    scores = torch.tensor([[0.6, 0.4], [0.3, 0.7]])
    DecoupledMixupLoss(eta=1.)(logits, scores).backward()
    assert torch.isfinite(logits.grad).all()


def test_compiles_fullgraph_forward_and_backward():
    loss = DecoupledMixupLoss(eta=0.1, decouple='minor', lam_power=0.5)
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


# Bad arguments and inputs.


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
    (dict(decouple='less'), ValueError, 'unknown decouple'),
    (dict(lam_power=-0.5), ValueError, 'lam_power must be >= 0'),
    (dict(lam_thr=0.), ValueError, 'lam_thr must be > 0'),
    (dict(lam_thr=1.5), ValueError, 'lam_thr must be <= 1'),
    (dict(lam_weighted='yes'), TypeError, 'lam_weighted must be a bool'),
    (dict(lam_weighted=False, lam_power=0.5), ValueError, 'give only'),
    (dict(mode='bce', decouple='minor'), ValueError, 'xi and power'),
    (dict(mode='ce', use_sigmoid=True), ValueError, 'contradicts'),
    (dict(mode='multi_label', use_sigmoid=False), ValueError, 'contradicts'),
    (dict(use_soft=True, use_sigmoid=True), ValueError, 'use_soft'),
    (dict(use_sigmoid='yes'), TypeError, 'use_sigmoid must be a bool'),
    (dict(class_weight=[1., 2.]), ValueError, 'class_weight'),
    (dict(pos_weight=2.), ValueError, 'pos_weight'),
    (dict(label_smooth_val=1.), ValueError, 'label_smooth_val must be < 1'),
    (dict(label_smooth_val=-0.1), ValueError, 'label_smooth_val'),
    (dict(num_classes=0), ValueError, 'num_classes must be >= 1'),
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
    (torch.randn(0, 5), torch.zeros(0, dtype=torch.long), ValueError,
     r'no samples \(N=0\)'),
    (torch.randn(0, 5), torch.zeros(0, 5), ValueError, r'N=0'),
])
def test_bad_inputs_name_the_problem(logits, label, error, message):
    with pytest.raises(error, match=message):
        DecoupledMixupLoss()(logits, label)


@pytest.mark.parametrize('bad', [float('nan'), float('inf'), -1.])
def test_bad_weight_values_raise(bad):
    weight = torch.tensor([1., bad, 1., 1.])
    with pytest.raises(ValueError, match='weight must hold finite'):
        DecoupledMixupLoss()(torch.randn(4, 5), torch.zeros(4, 5).index_fill_(
            1, torch.tensor([0]), 1.), weight=weight)


def test_huge_logits_name_the_logits():
    """±3e38 logits overflow the loss (a difference of 6e38): the error says
    so instead of blaming the scores."""
    logits = torch.tensor([[3e38, -3e38, 0.], [0., 1., 2.]])
    scores = torch.tensor([[0., 1., 0.], [1., 0., 0.]])
    with pytest.raises(ValueError, match='logits up to 3e') as info:
        DecoupledMixupLoss()(logits, scores)
    assert 'scores far larger' not in str(info.value)
    with pytest.raises(ValueError, match='scores far larger than 1'):
        DecoupledMixupLoss()(torch.tensor([[50., 0., 0.], [0., 50., 0.]]),
                             scores * 1e38)


def test_bad_weight_and_reduction_override():
    loss = DecoupledMixupLoss()
    logits, labels = torch.randn(4, 5), torch.zeros(4, dtype=torch.long)
    with pytest.raises(ValueError, match=r'weight must have shape \(4,\)'):
        loss(logits, labels, weight=torch.ones(3))
    with pytest.raises(ValueError, match='unknown reduction_override'):
        loss(logits, labels, reduction_override='max')
    with pytest.raises(TypeError, match='unexpected arguments'):
        loss(logits, labels, class_weight=[1.] * 5)
    with pytest.raises(ValueError, match='num_classes=4 but'):
        DecoupledMixupLoss(num_classes=4)(logits, labels)


def test_targets_with_gradient_are_refused():
    with pytest.raises(ValueError, match='detach'):
        DecoupledMixupLoss()(torch.randn(2, 3),
                             torch.rand(2, 3, requires_grad=True))


def test_value_checks_can_be_turned_off_for_speed():
    logits = torch.tensor([[float('nan'), 0.]])
    loss = DecoupledMixupLoss(check_values=False)
    assert torch.isnan(loss(logits, torch.tensor([0])))


# OpenMixup's ClsMixupHead + soft_mix_cross_entropy, as the DM runs trained.


def openmixup_weights(lam, eta, mode, lam_idx, lam_thr=1.):
    """``eta_weight`` of ClsMixupHead for (λ, 1 - λ): which class of the pair
    gets the regularizer and with what weight (thr 0.5)."""
    below = lam < 0.5
    if mode == 'less':
        weights = [lam, 0.] if below else [0., 1 - lam]
    elif mode == 'more':
        weights = [lam, 0.] if not below else [0., 1 - lam]
    else:
        weights = [lam, 1 - lam]
    return [
        eta * (1. if w >= lam_thr else (w / lam_thr)**abs(lam_idx))
        if w > 0 else 0. for w in weights
    ]


def openmixup_rows(z, labels_a, labels_b, lam, eta, mode, lam_idx):
    """Per-row loss as OpenMixup computes it for a batch mixed with one λ:
    the weights are handed out in the class-index order of the first mixed
    row, to whichever class of each row has that score."""
    num_classes = z.size(1)
    scores = two_way(labels_a, labels_b, lam, num_classes)
    weights = openmixup_weights(lam, eta, mode, lam_idx)
    mixed_rows = [i for i, (a, b) in enumerate(zip(labels_a, labels_b))
                  if a != b]
    first = mixed_rows[0]
    order = sorted((labels_a[first], labels_b[first]))
    lam_k = [scores[first, c].item() for c in order]
    rows = []
    for i, (zi, si) in enumerate(zip(z.tolist(), scores.tolist())):
        lse = log_sum_exp(zi)
        loss = -math.fsum(sc * (zc - lse) for sc, zc in zip(si, zi))
        if i in mixed_rows and lam_k[0] != lam_k[1]:
            pair = (labels_a[i], labels_b[i])
            negatives = [zi[c] for c in range(num_classes) if c not in pair]
            for value, weight in zip(lam_k, weights):
                k = next(c for c in pair if si[c] == value)
                loss += weight * (log_sum_exp([zi[k]] + negatives) - zi[k])
        rows.append(loss)
    return rows, order[0] != labels_a[first]


def intended_config(eta, mode, lam_idx):
    decouple = dict(both='both', more='major', less='minor')[mode]
    return dict(eta=eta, decouple=decouple, lam_power=float(lam_idx))


# The CIFAR-100 R18 decouple configs (eta, mode, lam_idx): Mixup, CutMix,
# FMix; and the base config (both, λ-weighted).
OPENMIXUP_SETTINGS = [(0.01, 'more', 0.5), (0.1, 'less', 0.5),
                      (0.01, 'less', 0.), (0.1, 'both', 1.)]


def random_batch(rng, num=8, num_classes=10, alpha=0.2):
    """Logits and a batch mixed with one λ ~ Beta(alpha, alpha) (clipped to
    [0.02, 0.98]); row 0 always mixes two classes."""
    labels_a = rng.integers(num_classes, size=num)
    labels_b = labels_a[rng.permutation(num)]
    labels_b[0] = (labels_a[0] + rng.integers(1, num_classes)) % num_classes
    lam = float(np.clip(rng.beta(alpha, alpha), 0.02, 0.98))
    logits = torch.from_numpy(2 * rng.standard_normal((num, num_classes)))
    return logits, labels_a.tolist(), labels_b.tolist(), lam


@pytest.mark.parametrize('eta, mode, lam_idx', OPENMIXUP_SETTINGS)
def test_openmixup_weighting_matches_when_the_class_order_agrees(
        eta, mode, lam_idx):
    """Per row, DM gives the weight of λ to the class with score λ. OpenMixup
    agrees on batches whose first mixed row lists its own class first, and
    puts the weights on the wrong classes of every row otherwise."""
    rng = np.random.default_rng(10)
    seen = set()
    for _ in range(12):
        logits, labels_a, labels_b, lam = random_batch(rng)
        reference, swapped = openmixup_rows(logits, labels_a, labels_b, lam,
                                            eta, mode, lam_idx)
        scores = two_way(labels_a, labels_b, lam, logits.size(1))
        ours = DecoupledMixupLoss(reduction='none',
                                  **intended_config(eta, mode, lam_idx))
        got = ours(logits, scores)
        reference = torch.tensor(reference, dtype=torch.float64)
        if swapped and (mode != 'both' or lam_idx != 0):
            assert not torch.allclose(got, reference, rtol=1e-9, atol=0)
        else:
            torch.testing.assert_close(got, reference, rtol=1e-9, atol=0)
        seen.add(swapped)
    assert seen == {True, False}


def measure_openmixup_quirk(batches=400, num=100, num_classes=100):
    """Batches (of ``num`` samples, λ ~ Beta(0.2, 0.2)) whose weights
    OpenMixup puts on the wrong classes, and how much their batch loss
    differs from the intended one, per setting."""
    print(f'{batches} batches of {num} samples, {num_classes} classes, '
          'λ ~ Beta(0.2, 0.2), logits ~ N(0, 2²)')
    for eta, mode, lam_idx in OPENMIXUP_SETTINGS:
        rng = np.random.default_rng(0)
        ours = DecoupledMixupLoss(**intended_config(eta, mode, lam_idx))
        swapped_batches, changes = 0, []
        for _ in range(batches):
            logits, labels_a, labels_b, lam = random_batch(
                rng, num, num_classes)
            rows, swapped = openmixup_rows(logits, labels_a, labels_b, lam,
                                           eta, mode, lam_idx)
            reference = math.fsum(rows) / num
            got = ours(logits, two_way(labels_a, labels_b, lam,
                                       num_classes)).item()
            if swapped:
                changes.append(abs(got - reference) / got)
        changes.sort()
        print(f'eta {eta}, {mode}, lam_idx {lam_idx}: {len(changes)} '
              'batches with swapped weights; their loss differs by '
              f'{100 * changes[len(changes) // 2]:.3f}% (median), '
              f'{100 * changes[-1]:.3f}% (max)')


if __name__ == '__main__':
    measure_openmixup_quirk()
