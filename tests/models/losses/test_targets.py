"""The score helpers of the Decoupled Mixup loss: the top-k of the scores
(folded on the CPU for 1000+ classes) against torch.topk."""
import pytest
import torch
import torch.nn.functional as F

from dm_plugin.models.losses.targets import mixed_classes, top_scores


def score_rows(num_classes: int) -> torch.Tensor:
    """Mixup pairs, ties of two and three classes, all-equal rows, scores
    in the padded tail of the last fold, and dense random rows."""
    torch.manual_seed(0)
    labels = torch.randint(num_classes, (8, ))
    lam = torch.rand(8, 1)
    pairs = lam * F.one_hot(labels, num_classes) + \
        (1 - lam) * F.one_hot(labels.roll(1), num_classes)
    ties = torch.zeros(4, num_classes)
    ties[0, [3, num_classes - 1]] = 0.5
    ties[1, [0, 1, num_classes // 2]] = 1 / 3
    ties[2, -3:] = torch.tensor([0.2, 0.3, 0.5])
    ties[3] = 1 / num_classes
    dense = torch.rand(4, num_classes)
    return torch.cat([pairs, ties, dense])


@pytest.mark.parametrize('num_classes', [10, 999, 1000, 1001, 1003, 4096])
@pytest.mark.parametrize('k', [1, 2, 3, 5])
def test_top_scores_equal_torch_topk(num_classes, k):
    scores = score_rows(num_classes)
    value, index = top_scores(scores, k)
    expected = scores.topk(k, dim=-1).values
    assert value.shape == index.shape == (len(scores), k)
    torch.testing.assert_close(
        value.sort(dim=-1, descending=True).values, expected, rtol=0, atol=0)
    assert torch.equal(scores.gather(1, index), value)
    assert (index.sort(dim=-1).values.diff(dim=-1) > 0).all()  # distinct
    assert ((index >= 0) & (index < num_classes)).all()


def test_mixed_classes_with_all_classes_as_slots():
    """max_mixed=None takes every class as a slot (no folding)."""
    scores = score_rows(1000)
    score, index, present, count = mixed_classes(scores, 1e-3, None)
    assert score.shape == (len(scores), 1000)
    assert torch.equal(count, (scores > scores.amin(-1, keepdim=True) +
                               1e-3).sum(-1))
    assert torch.equal(index.sort(-1).values,
                       torch.arange(1000).expand(len(scores), -1))
