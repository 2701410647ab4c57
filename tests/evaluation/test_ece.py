import math

import pytest
import torch
from mmengine.evaluator import Evaluator
from mmpretrain.evaluation import Accuracy
from mmpretrain.registry import METRICS
from mmpretrain.structures import DataSample

from child_processes import run_ranks
from dm_plugin.evaluation import (ECE, calibration_bins,
                                  expected_calibration_error, top1_confidence)


def naive_ece(scores, labels, n_bins):
    """Per-sample reference: bin m holds confidences in (m/M, (m+1)/M]."""
    edges = [k / n_bins for k in range(1, n_bins)]
    members = [[] for _ in range(n_bins)]
    for row, label in zip(scores.tolist(), labels.tolist()):
        confidence = max(row)
        prediction = row.index(confidence)
        members[sum(confidence > edge for edge in edges)].append(
            (confidence, prediction == label))
    total = 0.
    for bin_members in members:
        if bin_members:
            mean_confidence = sum(c for c, _ in bin_members) / len(bin_members)
            accuracy = sum(r for _, r in bin_members) / len(bin_members)
            total += len(bin_members) * abs(accuracy - mean_confidence)
    return total / len(labels)


def ece_of(scores, labels, n_bins=15):
    return float(
        expected_calibration_error(*top1_confidence(scores, labels), n_bins))


def random_predictions(num_samples, num_classes, seed, sharpness=3.):
    generator = torch.Generator().manual_seed(seed)
    logits = sharpness * torch.randn(
        num_samples, num_classes, generator=generator)
    labels = torch.randint(num_classes, (num_samples, ), generator=generator)
    return logits.softmax(dim=1), labels


@pytest.mark.parametrize('n_bins', [1, 2, 7, 15, 40])
@pytest.mark.parametrize('seed', [0, 1])
def test_ece_matches_naive_reference(n_bins, seed):
    scores, labels = random_predictions(200, 5, seed)
    assert ece_of(scores, labels, n_bins) == pytest.approx(
        naive_ece(scores, labels, n_bins), abs=1e-12)


def test_perfect_calibration_is_zero():
    # Confidence 0.75 with 3 of 4 right, confidence 0.5 with 1 of 2 right.
    scores = torch.tensor([[0.75, 0.25, 0.]] * 4 + [[0.5, 0.3, 0.2]] * 2)
    labels = torch.tensor([0, 0, 0, 1, 0, 2])
    assert ece_of(scores, labels) == pytest.approx(0., abs=1e-7)


def test_overconfident_cases_by_hand():
    # All at confidence 0.9, half right: ECE = |0.5 - 0.9| = 0.4.
    scores = torch.tensor([[0.9, 0.1]] * 4)
    labels = torch.tensor([0, 0, 1, 1])
    assert ece_of(scores, labels) == pytest.approx(0.4, abs=1e-6)
    # Two bins: 0.9 both right (gap 0.1), 0.6 both wrong (gap 0.6).
    scores = torch.tensor([[0.9, 0.1], [0.1, 0.9], [0.6, 0.4], [0.4, 0.6]])
    labels = torch.tensor([0, 1, 1, 0])
    assert ece_of(scores, labels) == pytest.approx(
        0.5 * 0.1 + 0.5 * 0.6, abs=1e-6)


def test_bin_edges_are_right_closed():
    n_bins = 5
    confidences = torch.tensor([0., 0.2, 0.2000001, 0.4, 0.99, 1.],
                               dtype=torch.float64)
    correct = torch.tensor([True, False, True, True, False, True])
    counts, bin_confidence, bin_accuracy = calibration_bins(
        confidences, correct, n_bins)
    assert counts.tolist() == [2, 2, 0, 0, 2]
    assert bin_confidence.tolist() == pytest.approx(
        [0.1, 0.30000005, 0., 0., 0.995])
    assert bin_accuracy.tolist() == [0.5, 1., 0., 0., 0.5]


def test_single_bin_is_accuracy_confidence_gap():
    scores, labels = random_predictions(50, 4, seed=3)
    confidences, correct = top1_confidence(scores, labels)
    expected = abs(correct.double().mean() - confidences.mean())
    assert ece_of(scores, labels, n_bins=1) == pytest.approx(float(expected))


def test_ece_is_permutation_invariant_and_bounded():
    scores, labels = random_predictions(64, 6, seed=4, sharpness=6.)
    order = torch.randperm(64, generator=torch.Generator().manual_seed(0))
    value = ece_of(scores, labels)
    assert 0. <= value <= 1.
    assert ece_of(scores[order], labels[order]) == pytest.approx(value)


@pytest.mark.parametrize('n_bins, error', [(0, ValueError),
                                           (1.5, TypeError),
                                           (True, TypeError)])
def test_bad_n_bins(n_bins, error):
    with pytest.raises(error, match='n_bins'):
        ECE(n_bins=n_bins)
    with pytest.raises(error, match='n_bins'):
        calibration_bins(torch.ones(2), torch.ones(2, dtype=torch.bool),
                         n_bins)


@pytest.mark.parametrize('scores, labels, error, match', [
    (torch.tensor([[1.5, -0.5]]), torch.tensor([0]), ValueError, 'softmax'),
    (torch.tensor([0.5, 0.5]), torch.tensor([0]), TypeError, 'scores'),
    (torch.tensor([[0.5, 0.5]]), torch.tensor([0.]), TypeError, 'labels'),
    (torch.tensor([[0.5, 0.5]]), torch.tensor([0, 1]), ValueError, 'mismatch'),
    (torch.tensor([[0.5, 0.5]]), torch.tensor([2]), ValueError, r'\[0, 2\)'),
    (torch.zeros(0, 3), torch.zeros(0, dtype=torch.long), ValueError,
     'at least one'),
])
def test_bad_predictions(scores, labels, error, match):
    with pytest.raises(error, match=match):
        top1_confidence(scores, labels)


def data_samples(scores, labels):
    return [
        DataSample().set_pred_score(score).set_gt_label(int(label))
        for score, label in zip(scores, labels)
    ]


def test_metric_in_evaluator_matches_function_and_accuracy():
    assert METRICS.get('ECE') is ECE
    scores, labels = random_predictions(30, 5, seed=5)
    evaluator = Evaluator([
        METRICS.build(dict(type='ECE', n_bins=10)),
        Accuracy(topk=(1, ))
    ])
    samples = data_samples(scores, labels)
    evaluator.process(samples[:16])
    evaluator.process(samples[16:])
    metrics = evaluator.evaluate(30)
    assert metrics['calibration/ece'] == pytest.approx(
        100 * naive_ece(scores, labels, 10), abs=1e-6)
    assert metrics['calibration/top1'] == pytest.approx(
        metrics['accuracy/top1'], abs=1e-4)


def test_metric_needs_scores_and_single_labels():
    metric = ECE()
    with pytest.raises(KeyError, match='pred_score'):
        metric.process(None, [DataSample().set_gt_label(0).to_dict()])
    multi_label = DataSample().set_pred_score([0.5, 0.5]).set_gt_label([0, 1])
    with pytest.raises(ValueError, match='single-label'):
        metric.process(None, [multi_label.to_dict()])
    with pytest.raises(ValueError, match='no predictions'):
        metric.compute_metrics([])


def evaluate_on_rank(rank, world_size, scores, labels):
    """One rank of a distributed evaluation (in a process group)."""
    # DefaultSampler's split: rank r takes every world_size-th sample, the
    # last rank padded with the first sample to equal length.
    num_samples = len(labels)
    per_rank = math.ceil(num_samples / world_size)
    padded = list(range(num_samples)) + list(
        range(per_rank * world_size - num_samples))
    indices = padded[rank::world_size]
    metric = ECE(n_bins=15)
    metric.process(None, [
        sample.to_dict()
        for sample in data_samples(scores[indices], labels[indices])
    ])
    return metric.evaluate(num_samples)


def test_distributed_evaluation_drops_padding(tmp_path):
    """Two gloo ranks (11 samples, so the sampler pads one): both get the
    ECE of the 11 samples, not of the 12 evaluated."""
    scores, labels = random_predictions(11, 4, seed=6)
    results = run_ranks(evaluate_on_rank, 2, (scores, labels),
                        store=str(tmp_path / 'store'))
    expected = 100 * naive_ece(scores, labels, 15)
    padded = torch.cat([scores, scores[:1]]), torch.cat([labels, labels[:1]])
    assert 100 * naive_ece(*padded, 15) != pytest.approx(expected, abs=1e-3)
    for metrics in results:
        assert metrics['calibration/ece'] == pytest.approx(expected,
                                                           abs=1e-6)
