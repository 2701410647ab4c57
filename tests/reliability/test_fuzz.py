"""Property-based tests: finite inputs give finite outputs, bad ones raise.

Over shapes, λ, dtypes and magnitudes, for DecoupledMixupLoss and every
static mixer registered in ``MIXERS`` (new ones are picked up).
"""
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from dm_plugin.models.losses.decoupled_mixup_loss import DecoupledMixupLoss
from dm_plugin.registry import MIXERS

DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64]
# log10 of the largest |value| drawn: float16 tops out at 65504; the others
# go to 1e30, where exp() overflows unless the math is written stably.
MAX_EXPONENT = {
    torch.float16: 4,
    torch.bfloat16: 30,
    torch.float32: 30,
    torch.float64: 30
}
STATIC_MIXERS = sorted(name for name, cls in MIXERS.module_dict.items()
                       if not cls.needs_model)

fuzz = settings(max_examples=40, deadline=None)


@st.composite
def scaled(draw):
    """(dtype, scale): a dtype and a magnitude 10^k it can hold."""
    dtype = draw(st.sampled_from(DTYPES))
    exponent = draw(st.integers(-3, MAX_EXPONENT[dtype]))
    return dtype, 10.**exponent


def uniform(shape, scale, dtype, seed):
    """Values in [-scale, scale), made in float64 then cast."""
    generator = torch.Generator().manual_seed(seed)
    values = torch.rand(shape, generator=generator, dtype=torch.float64)
    return ((2 * values - 1) * scale).to(dtype)


def mixed_scores(num, num_classes, lam, dtype, seed):
    """λ·onehot(a) + (1-λ)·onehot(b) with random a, b: (N, C)."""
    generator = torch.Generator().manual_seed(seed)
    a, b = torch.randint(num_classes, (2, num), generator=generator)
    scores = lam * F.one_hot(a, num_classes).double() + \
        (1 - lam) * F.one_hot(b, num_classes).double()
    return scores.to(dtype)


LAMBDAS = st.one_of(st.sampled_from([0., 1., 1e-30, 1 - 1e-7, 0.5]),
                    st.floats(0, 1))


@fuzz
@given(shape=st.tuples(st.integers(1, 6), st.integers(2, 12)),
       dtype_scale=scaled(),
       lam=LAMBDAS,
       mode=st.sampled_from(['ce', 'bce']),
       eta=st.floats(0, 5),
       lam_weighted=st.booleans(),
       reduction=st.sampled_from(['mean', 'sum', 'none']),
       seed=st.integers(0, 2**16))
@example(shape=(1, 3), dtype_scale=(torch.float16, 1e3), lam=0.5, mode='ce',
         eta=4., lam_weighted=False, reduction='mean', seed=0)  # found
def test_loss_of_finite_inputs_is_finite(shape, dtype_scale, lam, mode, eta,
                                         lam_weighted, reduction, seed):
    dtype, scale = dtype_scale
    logits = uniform(shape, scale, dtype, seed).requires_grad_()
    scores = mixed_scores(*shape, lam, dtype, seed)
    loss = DecoupledMixupLoss(
        eta=eta, mode=mode, lam_weighted=lam_weighted, reduction=reduction)
    value = loss(logits, scores)
    value.sum().backward()
    assert torch.isfinite(value).all()
    assert torch.isfinite(logits.grad).all()
    expected_shape = {'mean': (), 'sum': (), 'none': shape}[reduction]
    assert value.shape == (expected_shape if mode == 'bce' else
                           expected_shape[:1])


@fuzz
@given(shape=st.tuples(st.integers(1, 6), st.integers(2, 12)),
       dtype=st.sampled_from([torch.float16, torch.bfloat16, torch.float32]),
       exponent=st.integers(-3, 4),
       lam=LAMBDAS,
       eta=st.floats(0, 5),
       lam_weighted=st.booleans(),
       seed=st.integers(0, 2**16))
@example(shape=(1, 3), dtype=torch.float32, exponent=3, lam=0.5, eta=4.,
         lam_weighted=False, seed=0)  # a logit gap beyond fp32's exp range
def test_loss_in_low_precision_matches_float64(shape, dtype, exponent, lam,
                                                eta, lam_weighted, seed):
    """DM(CE) of fp16/bf16/fp32 logits (computed in float32) agrees with
    float64 on the very same values: float32 error, not a wrong formula
    where exp() underflows."""
    # A score within rounding of pos_thr (1e-3 by default; 1 - 0.999) is a
    # mixed class in one precision and not in the other, which switches the
    # regularizer on or off: a threshold, not float32 error.
    assume(all(abs(score - 1e-3) > 1e-6 for score in (lam, 1 - lam)))
    scale = 10.**exponent
    logits = uniform(shape, scale, dtype, seed)
    scores = mixed_scores(*shape, lam, torch.float64, seed)
    loss = DecoupledMixupLoss(eta=eta, lam_weighted=lam_weighted,
                              reduction='none')
    values, grads = [], []
    for inputs in (logits.float(), logits.double()):
        inputs.requires_grad_()
        value = loss(inputs, scores.to(inputs.dtype))
        value.sum().backward()
        values.append(value.double())
        grads.append(inputs.grad.double())
    # both terms are differences of numbers as large as the logits
    atol = 1e-5 * (1 + eta) * (1 + scale)
    torch.testing.assert_close(values[0], values[1], rtol=1e-4, atol=atol)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-4,
                               atol=1e-4 * (1 + eta))


@fuzz
@given(shape=st.tuples(st.integers(1, 6), st.integers(2, 12)),
       dtype=st.sampled_from(DTYPES),
       bad=st.sampled_from(['nan_logit', 'inf_logit', 'nan_score',
                            'negative_score', 'index_too_large',
                            'wrong_classes', 'wrong_batch', 'int_logits']),
       seed=st.integers(0, 2**16))
def test_loss_of_invalid_inputs_raises(shape, dtype, bad, seed):
    num, num_classes = shape
    logits = uniform(shape, 3., dtype, seed)
    scores = mixed_scores(num, num_classes, 0.7, dtype, seed)
    row = seed % num
    if bad == 'nan_logit':
        logits[row, seed % num_classes] = float('nan')
    elif bad == 'inf_logit':
        logits[row, seed % num_classes] = float('-inf')
    elif bad == 'nan_score':
        scores[row, seed % num_classes] = float('nan')
    elif bad == 'negative_score':
        scores[row, seed % num_classes] = -0.5
    elif bad == 'index_too_large':
        scores = torch.full((num, ), num_classes + seed % 3)
    elif bad == 'wrong_classes':
        scores = scores[:, :-1]
    elif bad == 'wrong_batch':
        scores = torch.cat([scores, scores])
    else:
        logits = logits.long()
    error = TypeError if bad == 'int_logits' else ValueError
    with pytest.raises(error):
        DecoupledMixupLoss()(logits, scores)


@pytest.mark.parametrize('name', STATIC_MIXERS)
@settings(max_examples=25, deadline=None)
@given(shape=st.tuples(
    st.integers(1, 5), st.integers(1, 3), st.integers(1, 24),
    st.integers(1, 24)),
       num_classes=st.integers(1, 6),
       soft=st.booleans(),
       dtype_scale=scaled(),
       alpha=st.floats(0.05, 8.),
       mode=st.sampled_from(['batch', 'elem', 'pair']),
       seed=st.integers(0, 2**16))
def test_mixer_of_finite_inputs_is_finite(name, shape, num_classes, soft,
                                          dtype_scale, alpha, mode, seed):
    """Mixed images keep shape and dtype and stay finite; mixed scores stay
    finite and keep each row's total (mixing is convex)."""
    dtype, scale = dtype_scale
    torch.manual_seed(seed)
    inputs = uniform(shape, scale, dtype, seed)
    scores = (mixed_scores(shape[0], num_classes, 0.6, torch.float32, seed)
              if soft else F.one_hot(
                  torch.arange(shape[0]) % num_classes, num_classes).float())
    mixed, mixed_scores_ = MIXERS.get(name)(alpha=alpha, mode=mode)(
        inputs, scores)
    assert mixed.shape == inputs.shape and mixed.dtype == inputs.dtype
    assert torch.isfinite(mixed).all()
    assert mixed_scores_.shape == scores.shape
    assert torch.isfinite(mixed_scores_).all()
    torch.testing.assert_close(mixed_scores_.sum(1), scores.sum(1))


@pytest.mark.parametrize('name', STATIC_MIXERS)
@settings(max_examples=15, deadline=None)
@given(bad=st.sampled_from(['3d_inputs', 'int_inputs', 'batch_mismatch',
                            'empty_batch', '1d_scores']),
       seed=st.integers(0, 2**16))
def test_mixer_of_invalid_inputs_raises(name, bad, seed):
    num = 2 + seed % 3
    inputs = uniform((num, 3, 8, 8), 1., torch.float32, seed)
    scores = F.one_hot(torch.arange(num) % 3, 3).float()
    if bad == '3d_inputs':
        inputs = inputs[:, 0]
    elif bad == 'int_inputs':
        inputs = (inputs * 100).long()
    elif bad == 'batch_mismatch':
        scores = scores[:-1]
    elif bad == 'empty_batch':
        inputs, scores = inputs[:0], scores[:0]
    else:
        scores = scores.argmax(1)
    error = TypeError if bad == 'int_inputs' else ValueError
    with pytest.raises(error):
        MIXERS.get(name)()(inputs, scores)
