"""TPP (docs/methods.md §1b) against hand-computed values, and the degenerate-set guards."""

import math

import numpy as np
import pytest

from corpus.config import TPPConfig
from corpus.selection import embedding_reject_reason, score_class
from corpus.subtexts import Candidate, textual_reject_reason
from corpus.tpp import diversity, relatedness, tpp_score, tpp_terms

T = np.array([1.0, 0.0])
S = np.array([[0.0, 1.0], [1.0, 1.0], [1.0, -1.0]])


def test_relatedness_by_hand():
    # cos to t: 0, 1/sqrt2, 1/sqrt2  ->  sigma = (cos + 1) / 2
    c = 1 / math.sqrt(2)
    assert relatedness(T, S) == pytest.approx([0.5, (c + 1) / 2, (c + 1) / 2])


def test_diversity_by_hand():
    # pairwise cos: s1.s2 = c, s1.s3 = -c, s2.s3 = 0 ; scaled (x+1)/2
    c = 1 / math.sqrt(2)
    a, b, z = (c + 1) / 2, (1 - c) / 2, 0.5
    assert diversity(S) == pytest.approx([1 - (a + b) / 2, 1 - (a + z) / 2, 1 - (b + z) / 2])


def test_tpp_by_hand():
    c = 1 / math.sqrt(2)
    sigma = [0.5, (c + 1) / 2, (c + 1) / 2]
    delta = [0.5, 1 - ((c + 1) / 2 + 0.5) / 2, 1 - ((1 - c) / 2 + 0.5) / 2]
    terms = [(1 - s**2) * d for s, d in zip(sigma, delta, strict=True)]
    expected = math.exp(-sum(math.log(t) for t in terms) / 3)
    assert expected == pytest.approx(5.4897, abs=1e-4)
    assert tpp_score(T, S) == pytest.approx(expected)


def test_tpp_is_scale_invariant_and_takes_float32():
    assert tpp_score(3 * T, (7 * S).astype(np.float32)) == pytest.approx(tpp_score(T, S), 1e-6)


def _cone(angles_deg: list[float]) -> np.ndarray:
    """Sub-texts equally related to e1 (same sigma), spread around it by the given angles."""
    a = np.radians(angles_deg)
    return np.stack([np.ones_like(a), np.cos(a), np.sin(a)], axis=1)


def test_paper_tpp_falls_with_diversity_and_the_variant_rises():
    t = np.array([1.0, 0.0, 0.0])
    similar, diverse = _cone([0, 10, 20]), _cone([0, 120, 240])
    assert relatedness(t, similar) == pytest.approx(relatedness(t, diverse))
    assert tpp_score(t, similar) > tpp_score(t, diverse)
    # The prose-consistent variant (beta(x) = 1 - x) rewards the diverse set instead.
    assert tpp_score(t, diverse, beta="diversity") > tpp_score(t, similar, beta="diversity")


def test_identical_subtexts_are_clamped_not_infinite():
    same = np.array([[1.0, 1.0]] * 4)
    value = tpp_score(T, same, epsilon=1e-6)
    assert math.isfinite(value) and value == pytest.approx(1e6, rel=1e-6)


def test_subtext_identical_to_class_is_clamped():
    s = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, -1.0]])
    assert math.isfinite(tpp_score(T, s))


def test_shape_errors_are_clear():
    with pytest.raises(ValueError, match="shapes"):
        tpp_score(S, S)
    with pytest.raises(ValueError, match="dims differ"):
        tpp_score(np.ones(3), S)


@pytest.mark.parametrize(
    ("subtexts", "reason"),
    [
        (("a b c", "d e f", "g h i"), "expected 4 sub-texts"),
        (("a b c", "", "g h i", "j k l"), "empty sub-text"),
        (("a b c", "A b c.", "g h i", "j k l"), "duplicate"),
        (("kick ball", "d e f", "g h i", "j k l"), "restates the class name"),
        (("the leg swings back fast", "the leg swings back very fast", "x y", "z w"),
         "near-duplicate"),
    ],
)
def test_textual_rejections(subtexts, reason):
    assert reason in textual_reject_reason("kick ball", subtexts, 4)


def test_valid_set_is_not_rejected():
    good = ("the foot plants beside the ball", "the leg swings back", "the instep strikes",
            "the ball rolls away across grass")
    assert textual_reject_reason("kick ball", good, 4) is None


def test_embedding_near_duplicates_are_rejected():
    vecs = np.array([[1.0, 0.0, 0.0], [0.999, 0.01, 0.0], [0.0, 1.0, 0.0]])
    assert "near-duplicate" in embedding_reject_reason(np.array([0, 0, 1.0]), vecs, 0.97)
    assert "restates" in embedding_reject_reason(np.array([0, 1.0, 0]),
                                                 np.eye(3)[[0, 2, 1]], 0.97)


def _candidate(source: str, subtexts: tuple[str, ...]) -> Candidate:
    return Candidate(0, source, "llm", "m", "p", subtexts)


def test_selection_picks_highest_tpp_within_best_tier():
    rng = np.random.default_rng(0)
    texts = [f"w{i} x{i} y{i}" for i in range(8)]
    vectors = {t: rng.normal(size=8) for t in texts}
    a = _candidate("a", tuple(texts[:4]))
    b = _candidate("b", tuple(texts[4:]))
    class_vec = rng.normal(size=8)
    cfg = TPPConfig()
    plain = score_class("z", class_vec, [(0, a), (1, b)], vectors, 4, cfg)
    tpps = {s.candidate_id: s.tpp for s in plain}
    best = max(tpps, key=tpps.get)
    assert [s.selected for s in plain] == [best == 0, best == 1]
    # Put the winner in a worse tier: the other set is selected.
    loser_source = "b" if best == 0 else "a"
    tiered = score_class("z", class_vec, [(0, a), (1, b)], vectors, 4, cfg,
                         {("a" if best == 0 else "b"): 1, loser_source: 0})
    assert [s.selected for s in tiered] == [best == 1, best == 0]


def test_a_class_with_only_rejected_sets_selects_nothing():
    bad = _candidate("a", ("same words", "same words", "x y z", "p q r"))
    scored = score_class("z", np.ones(2), [(0, bad)], {}, 4, TPPConfig())
    assert not any(s.selected for s in scored)
    assert scored[0].rejected_reason == "duplicate sub-texts"


def test_tpp_terms_returns_per_subtext_values():
    r = tpp_terms(T, S)
    assert r.sigma.shape == (3,) and r.delta.shape == (3,)


# -- short sets and class-text augmentations (docs/methods.md §1b) --------------------------

def test_a_short_set_is_accepted_only_when_marked_short():
    two = ("the foot plants beside the ball", "the instep strikes")
    assert textual_reject_reason("kick ball", two, 4) == "expected 4 sub-texts, got 2"
    assert textual_reject_reason("kick ball", two, 4, "short") is None
    assert "expected 2 to 3 sub-texts (a short set), got 4" in textual_reject_reason(
        "kick ball", (*two, "x y z", "p q r"), 4, "short")
    assert textual_reject_reason("kick ball", two[:1], 4, "class_text") is None
    assert textual_reject_reason("kick ball", ("kick ball",), 4, "class_text") == \
        "sub-text restates the class name"


def test_tpp_of_a_short_set_is_the_formula_over_its_own_size():
    # Two sub-texts: sigma and delta over m = 2 (1/(m-1) = 1 in delta), mean over 2 terms.
    t, s = np.array([1.0, 0.0]), np.array([[1.0, 1.0], [1.0, -1.0]])
    c = 1 / math.sqrt(2)
    sigma = (c + 1) / 2
    delta = 1 - 0.5  # cos(s1, s2) = 0 -> scaled 0.5
    expected = math.exp(-math.log((1 - sigma**2) * delta))
    assert tpp_score(t, s) == pytest.approx(expected)


def test_a_short_set_is_scored_marked_and_selected_only_without_a_full_set():
    rng = np.random.default_rng(0)  # the short set's TPP is the higher one here
    texts = [f"w{i} x{i} y{i}" for i in range(7)]
    vectors = {t: rng.normal(size=8) for t in texts}
    class_vec = rng.normal(size=8)
    full = _candidate("full", tuple(texts[:4]))
    short = Candidate(0, "short", "import", None, None, tuple(texts[4:6]), "short")
    one = Candidate(0, "froster", "import", None, None, (texts[6],), "class_text")
    both = score_class("z", class_vec, [(0, full), (1, short), (2, one)], vectors, 4,
                       TPPConfig())
    assert all(s.rejected_reason is None for s in both)
    assert both[1].sigma.shape == (2,) and both[1].tpp > both[0].tpp
    assert [s.selected for s in both] == [True, False, False]  # full before short
    # The augmentation is checked but never scored or selected.
    assert both[2].tpp is None and both[2].sigma is None
    alone = score_class("z", class_vec, [(1, short), (2, one)], vectors, 4, TPPConfig())
    assert [s.selected for s in alone] == [True, False]
    only_text = score_class("z", class_vec, [(2, one)], vectors, 4, TPPConfig())
    assert not any(s.selected for s in only_text)
