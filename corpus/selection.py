"""Scoring and selecting candidate sets per class with TPP (METHODS.md §1b).

Degenerate sets are rejected, with the reason recorded, before TPP is computed:
TPP is unbounded for them and would otherwise win.
"""

from dataclasses import dataclass

import numpy as np

from corpus.config import TPPConfig
from corpus.subtexts import Candidate, textual_reject_reason
from corpus.tpp import tpp_terms


@dataclass(frozen=True)
class ScoredCandidate:
    candidate_id: int
    candidate: Candidate
    rejected_reason: str | None
    sigma: np.ndarray | None
    delta: np.ndarray | None
    tpp: float | None
    selected: bool = False


def _unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def embedding_reject_reason(
    class_vec: np.ndarray, subtext_vecs: np.ndarray, threshold: float
) -> str | None:
    """Near-duplicates the word-level check cannot see ("kick ball" / "kicking a ball")."""
    s = _unit(subtext_vecs)
    pair = s @ s.T
    np.fill_diagonal(pair, -1.0)
    if pair.max() >= threshold:
        return f"near-duplicate sub-texts (cosine {pair.max():.3f})"
    to_class = s @ _unit(class_vec)
    if to_class.max() >= threshold:
        return f"sub-text restates the class name (cosine {to_class.max():.3f})"
    return None


def score_class(
    label: str,
    class_vec: np.ndarray,
    candidates: list[tuple[int, Candidate]],
    vectors: dict[str, np.ndarray],
    n: int,
    cfg: TPPConfig,
    priority: dict[str, int] | None = None,
) -> list[ScoredCandidate]:
    """Score every candidate of one class and mark the selected set: the highest TPP among
    the valid sets of the best (lowest) priority tier; with one tier, plain TPP selection."""
    scored = []
    for candidate_id, cand in candidates:
        reason = textual_reject_reason(label, cand.subtexts, n)
        if reason is None:
            subtext_vecs = np.stack([vectors[s] for s in cand.subtexts])
            reason = embedding_reject_reason(class_vec, subtext_vecs, cfg.near_duplicate_cosine)
        if reason is not None:
            scored.append(ScoredCandidate(candidate_id, cand, reason, None, None, None))
            continue
        terms = tpp_terms(class_vec, subtext_vecs, cfg.alpha, cfg.beta, cfg.epsilon)
        scored.append(ScoredCandidate(candidate_id, cand, None, terms.sigma, terms.delta,
                                      terms.tpp))
    best = select(scored, priority or {})
    if best is None:
        return scored
    return [
        ScoredCandidate(s.candidate_id, s.candidate, s.rejected_reason, s.sigma, s.delta, s.tpp,
                        selected=s.candidate_id == best)
        for s in scored
    ]


def select(scored: list[ScoredCandidate], priority: dict[str, int]) -> int | None:
    """candidate_id of the selected set, or None when no set is valid."""
    valid = [s for s in scored if s.tpp is not None]
    if not valid:
        return None
    tier = min(priority.get(s.candidate.source, 0) for s in valid)
    in_tier = [s for s in valid if priority.get(s.candidate.source, 0) == tier]
    # Ties go to the earlier source, so selection is deterministic.
    return max(in_tier, key=lambda s: (s.tpp, -s.candidate_id)).candidate_id
