"""Symmetric InfoNCE with same-class positives (Eqs. 13–15) against a hand computation."""

import math

import pytest
import torch
import torch.nn.functional as F

from model.losses import (
    LOSSES,
    multi_positive_infonce,
    positive_pairs_infonce,
    symmetric_infonce,
)


def nll(values: list[float], index: int) -> float:
    return -(values[index] - math.log(sum(math.exp(v) for v in values)))


def test_two_positives_of_one_class_against_a_hand_computation():
    logits = [[2.0, 0.5], [1.0, 1.5], [0.0, 3.0]]
    labels = [0, 0, 1]  # videos 0 and 1 are both positives of class 0
    rows = [nll(logits[b], labels[b]) for b in range(3)]
    column = [[logits[b][c] for b in range(3)] for c in range(2)]
    # V2T: video b averages the row losses of its class's videos; T2V: video b averages
    # -log softmax over the batch of its class's column at each same-class video.
    v2t = ((rows[0] + rows[1]) / 2 * 2 + rows[2]) / 3
    t2v = ((nll(column[0], 0) + nll(column[0], 1)) / 2 * 2 + nll(column[1], 2)) / 3
    got = symmetric_infonce(torch.tensor(logits), torch.tensor(labels))
    assert float(got) == pytest.approx(t2v + v2t, abs=1e-6)
    weighted = symmetric_infonce(torch.tensor(logits), torch.tensor(labels), v2t_weight=0.5)
    assert float(weighted) == pytest.approx(t2v + 0.5 * v2t, abs=1e-6)


def test_distinct_labels_reduce_to_clip_cross_entropy_both_ways():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 4, generator=g)
    labels = torch.tensor([2, 0, 3, 1])
    expected = F.cross_entropy(logits, labels) + F.cross_entropy(logits[:, labels].T,
                                                                 torch.arange(4))
    torch.testing.assert_close(symmetric_infonce(logits, labels), expected)


def test_order_of_the_batch_does_not_matter():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(6, 3, generator=g)
    labels = torch.tensor([0, 1, 1, 2, 0, 0])
    perm = torch.tensor([3, 5, 0, 2, 4, 1])
    torch.testing.assert_close(symmetric_infonce(logits, labels),
                               symmetric_infonce(logits[perm], labels[perm]))


def test_positive_pairs_infonce_with_one_label_each_is_symmetric_infonce():
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(8, 5, generator=g)
    labels = torch.tensor([0, 3, 3, 1, 0, 4, 3, 2])
    targets = F.one_hot(labels, 5)
    for weight in (1.0, 0.3):
        torch.testing.assert_close(positive_pairs_infonce(logits, targets, weight),
                                   symmetric_infonce(logits, labels, weight))
        assert torch.equal(multi_positive_infonce(logits, targets, weight),
                           symmetric_infonce(logits, labels, weight))


def test_multi_positive_infonce_against_a_hand_computation():
    logits = [[2.0, 0.5, -1.0], [1.0, 1.5, 0.0]]
    targets = [[1, 1, 0], [0, 1, 0]]  # video 0 shows classes 0 and 1, video 1 class 1
    column = [[logits[b][c] for b in range(2)] for c in range(3)]
    pairs = [(0, 0), (0, 1), (1, 1)]
    t2v = sum(nll(column[c], b) for b, c in pairs) / 3
    v2t = sum(nll(logits[b], c) for b, c in pairs) / 3
    got = multi_positive_infonce(torch.tensor(logits), torch.tensor(targets), 0.5)
    assert float(got) == pytest.approx(t2v + 0.5 * v2t, abs=1e-6)


def test_sigmoid_bce_is_the_mean_per_class_binary_cross_entropy():
    logits = [[2.0, -1.0], [0.0, 3.0]]
    targets = [[1, 0], [1, 1]]
    expected = sum(-math.log(1 / (1 + math.exp(-z))) if y else -math.log(1 - 1 / (1 + math.exp(-z)))
                   for row, trow in zip(logits, targets, strict=True)
                   for z, y in zip(row, trow, strict=True)) / 4
    assert float(LOSSES["bce"](torch.tensor(logits), torch.tensor(targets), 1.0)) == \
        pytest.approx(expected, abs=1e-6)
    assert LOSSES["infonce"] is multi_positive_infonce
