"""Evaluation arithmetic against hand-computed values."""

import numpy as np
import pytest

from model.data import few_shot_indices
from model.metrics import (
    ambiguity_scores,
    confusion_matrix,
    half_class_subsets,
    mean_average_precision,
    non_uniformity_scores,
    per_class_accuracy,
    topk_accuracy,
    topk_hit_rate,
)


def test_topk_and_confusion():
    scores = np.array([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2], [0.2, 0.3, 0.5]])
    labels = np.array([2, 0, 1])
    assert topk_accuracy(scores, labels, 1) == pytest.approx(1 / 3)
    assert topk_accuracy(scores, labels, 2) == pytest.approx(1.0)
    cm = confusion_matrix(scores.argmax(1), labels, 3)
    assert cm.tolist() == [[1, 0, 0], [0, 0, 1], [0, 1, 0]]
    assert per_class_accuracy(cm).tolist() == [1.0, 0.0, 0.0]


def test_mean_average_precision_by_hand():
    scores = np.array([[0.9, 0.1], [0.8, 0.7], [0.3, 0.6]])
    targets = np.array([[1, 0], [0, 1], [1, 0]])
    # class 0: positives ranked 1st and 3rd -> (1/1 + 2/3) / 2; class 1: ranked 1st -> 1.
    assert mean_average_precision(scores, targets) == pytest.approx(((1 + 2 / 3) / 2 + 1) / 2)


def test_half_class_subsets_are_seeded_halves():
    subsets = half_class_subsets(10)
    assert len(subsets) == 10 and all(len(s) == 5 for s in subsets)
    assert [s.tolist() for s in subsets] == [s.tolist() for s in half_class_subsets(10)]


def test_ambiguity_and_non_uniformity_by_hand():
    t = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    # cosines: (0,1)=1/√2, (0,2)=0, (1,2)=1/√2; normalised (c+1)/2; k=1 nearest.
    r = (1 / np.sqrt(2) + 1) / 2
    assert ambiguity_scores(t, neighbours=1).tolist() == pytest.approx([r, r, r])
    assert ambiguity_scores(t, neighbours=2)[0] == pytest.approx((r + 0.5) / 2)
    preds = np.array([[3, 3, 3], [1, 1, 2]])
    # video 2: of the 6 ordered pairs of different frames, 2 agree.
    assert non_uniformity_scores(preds).tolist() == pytest.approx([0.0, 1 - 2 / 6])


def test_few_shot_sampling_takes_k_per_class_with_a_seed():
    labels = np.array([0] * 5 + [1] * 3 + [2] * 1)
    chosen = few_shot_indices(labels, 2, seed=0)
    assert np.bincount(labels[chosen]).tolist() == [2, 2, 1]
    assert chosen.tolist() == few_shot_indices(labels, 2, seed=0).tolist()


def test_topk_hit_rate_counts_any_labelled_class_and_equals_top1_for_one_label():
    scores = np.array([[0.9, 0.5, 0.1], [0.2, 0.3, 0.8], [0.6, 0.7, 0.1]])
    targets = np.array([[0, 1, 1], [0, 0, 1], [1, 0, 1]])
    assert topk_hit_rate(scores, targets, 1) == pytest.approx(1 / 3)
    assert topk_hit_rate(scores, targets, 2) == pytest.approx(1.0)
    labels = np.array([0, 2, 0])
    assert topk_hit_rate(scores, np.eye(3)[labels], 1) == topk_accuracy(scores, labels, 1)
