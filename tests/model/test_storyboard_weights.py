"""The Storyboard frame weights (Eqs. 8 and 10) against values computed by hand."""

import math

import pytest
import torch

from model.heads.storyboard import (
    coarse_frame_weights,
    coarse_frame_weights_batched,
    fine_frame_weights,
    fine_frame_weights_batched,
)

# Three frames in 2-D: along x, along y, and the diagonal (not unit length on purpose:
# the weights use cosine similarity). cos(diagonal, x) = cos(diagonal, y) = 1/√2.
FRAMES = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]])
R = 1 / math.sqrt(2)


def softmax(values: list[float]) -> list[float]:
    total = sum(math.exp(v) for v in values)
    return [math.exp(v) / total for v in values]


def test_coarse_weights_average_the_per_word_softmax_over_frames():
    words = torch.tensor([[1.0, 0.0], [0.0, 3.0]])
    # word 1 has cosines (1, 0, 1/√2) with the frames, word 2 (0, 1, 1/√2); Eq. (8) sums
    # each word's softmax over frames and we divide by the word count (2).
    w1, w2 = softmax([1, 0, R]), softmax([0, 1, R])
    expected = [(a + b) / 2 for a, b in zip(w1, w2, strict=True)]
    got = coarse_frame_weights(words, FRAMES)
    assert got.tolist() == pytest.approx(expected, abs=1e-6)
    assert got.tolist() == pytest.approx([0.323530, 0.323530, 0.352940], abs=1e-5)
    assert float(got.sum()) == pytest.approx(1.0)


def test_coarse_weights_scale_sharpens_the_softmax():
    words = torch.tensor([[1.0, 0.0]])
    got = coarse_frame_weights(words, FRAMES, scale=10.0)
    assert got.tolist() == pytest.approx(softmax([10, 0, 10 * R]), abs=1e-6)


def test_fine_weights_take_the_best_subtext_per_frame():
    # Sub-text 1 has two words along x (mean cosine with the frames: 1, 0, 1/√2),
    # sub-text 2 one word along y (0, 1, 1/√2). Max over sub-texts: (1, 1, 1/√2).
    subtexts = [torch.tensor([[1.0, 0.0], [5.0, 0.0]]), torch.tensor([[0.0, 1.0]])]
    got = fine_frame_weights(subtexts, FRAMES)
    e = math.e
    expected = [e / (2 * e + math.exp(R))] * 2 + [math.exp(R) / (2 * e + math.exp(R))]
    assert got.tolist() == pytest.approx(expected, abs=1e-6)
    assert float(got.sum()) == pytest.approx(1.0)


def test_fine_weights_average_cosines_within_a_subtext():
    # One sub-text with words along x and along y: mean cosines (0.5, 0.5, 1/√2).
    got = fine_frame_weights([torch.tensor([[1.0, 0.0], [0.0, 1.0]])], FRAMES)
    assert got.tolist() == pytest.approx(softmax([0.5, 0.5, R]), abs=1e-6)


def test_batched_versions_match_one_class_one_video_at_a_time():
    g = torch.Generator().manual_seed(0)
    frames = torch.randn(2, 5, 8, generator=g)  # B=2 videos, L=5
    words = [torch.randn(n, 8, generator=g) for n in (3, 6, 4)]  # C=3 classes
    subtexts = [[torch.randn(n, 8, generator=g) for n in sizes]
                for sizes in ((2, 3), (4, 1, 2), (5,))]
    w = torch.zeros(3, 6, 8)
    wm = torch.zeros(3, 6, dtype=torch.bool)
    s = torch.zeros(3, 3, 5, 8)
    sm = torch.zeros(3, 3, 5, dtype=torch.bool)
    for c in range(3):
        w[c, : len(words[c])], wm[c, : len(words[c])] = words[c], True
        for n, sub in enumerate(subtexts[c]):
            s[c, n, : len(sub)], sm[c, n, : len(sub)] = sub, True
    coarse = coarse_frame_weights_batched(w, wm, frames, 3.0)
    fine = fine_frame_weights_batched(s, sm, frames, 3.0)
    assert coarse.shape == fine.shape == (2, 3, 5)
    for b in range(2):
        for c in range(3):
            torch.testing.assert_close(coarse[b, c],
                                       coarse_frame_weights(words[c], frames[b], 3.0))
            torch.testing.assert_close(fine[b, c],
                                       fine_frame_weights(subtexts[c], frames[b], 3.0))
    torch.testing.assert_close(coarse.sum(-1), torch.ones(2, 3))
    torch.testing.assert_close(fine.sum(-1), torch.ones(2, 3))
