"""Scoring and selecting candidate sets per class with TPP (docs/methods.md §1b).

Degenerate sets are rejected, with the reason recorded, before TPP is computed:
TPP is unbounded for them and would otherwise win. Selection is tiered: TPP picks among
the valid sets of the best (lowest) priority tier that has one, full sets before short
ones. A class-text augmentation (one sentence) is checked but never scored or selected.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from corpus.classes import ActionClass
from corpus.config import CorpusConfig, TPPConfig
from corpus.encoders import EmbeddingCache, TextEncoder, create_encoder
from corpus.errors import SubtextError
from corpus.sources import Failure, GeneratedClass
from corpus.subtexts import CLASS_TEXT, FULL, Candidate, textual_reject_reason
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
    the valid sets of the best (lowest) priority tier, full sets first; with one tier and no
    short sets, plain TPP selection. TPP of a short set of m sub-texts is the same formula
    with N = m (docs/methods.md §1b)."""
    scored = []
    for candidate_id, cand in candidates:
        reason = cand.length_rejection or textual_reject_reason(label, cand.subtexts, n,
                                                                 cand.set_kind)
        if reason is None:
            subtext_vecs = np.stack([vectors[s] for s in cand.subtexts])
            reason = embedding_reject_reason(class_vec, subtext_vecs, cfg.near_duplicate_cosine)
        if reason is not None or cand.set_kind == CLASS_TEXT:
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
    # A short set's TPP averages fewer terms (fewer pairs for diversity), so it is not a
    # fair match for a full set's: it is chosen only when its tier has no full set. Ties go
    # to the earlier source, so selection is deterministic.
    return max(in_tier, key=lambda s: (s.candidate.set_kind == FULL, s.tpp,
                                       -s.candidate_id)).candidate_id


@dataclass
class ScoredClass:
    action: ActionClass
    text: str
    scored: list[ScoredCandidate]
    failures: list[Failure]

    @property
    def selected(self) -> ScoredCandidate | None:
        return next((s for s in self.scored if s.selected), None)


def tpp_encoder(cfg: CorpusConfig) -> TextEncoder:
    choice = cfg.tpp.encoder
    if choice == "auto":
        real = [e for e in cfg.encoders if e.pretrained != "random"]
        return create_encoder(real[0]) if real else create_encoder("minilm")
    if choice == "clip":
        if not cfg.encoders:
            raise SubtextError("tpp.encoder is 'clip' but no encoders are configured")
        return create_encoder(cfg.encoders[0])
    return create_encoder(choice)


def class_text(cfg: CorpusConfig, action: ActionClass) -> str:
    return cfg.class_template.format(action.label)


def tpp_texts(cfg: CorpusConfig, generated: list[GeneratedClass]) -> list[str]:
    """The distinct texts TPP needs: class texts and every candidate's sub-texts."""
    texts = [class_text(cfg, g.action) for g in generated]
    texts += [s for g in generated for _, c in g.candidates for s in c.subtexts]
    return list(dict.fromkeys(texts))


def score_classes(cfg: CorpusConfig, generated: list[GeneratedClass], encoder: TextEncoder,
                  cache: EmbeddingCache, priority: dict[str, int],
                  progress: Callable[[int], None] | None = None) -> list[ScoredClass]:
    vectors = cache.embed(encoder, tpp_texts(cfg, generated), batch_size=cfg.embed_batch_size,
                          progress=progress)
    pooled = {t: e.pooled for t, e in vectors.items()}
    out = []
    for g in generated:
        text = class_text(cfg, g.action)
        scored = score_class(g.action.label, pooled[text], g.candidates, pooled,
                             cfg.n_subtexts, cfg.tpp, priority)
        out.append(ScoredClass(g.action, text, scored, g.failures))
    return out


def tpp_summary(cfg: CorpusConfig, scored: list[ScoredClass], encoder: TextEncoder,
                priority: dict[str, int]) -> dict:
    by_source: dict[str, list[float]] = {}
    selected: dict[str, int] = {}
    for s in scored:
        for cand in s.scored:
            if cand.tpp is not None:
                by_source.setdefault(cand.candidate.source, []).append(cand.tpp)
        if s.selected:
            selected[s.selected.candidate.source] = selected.get(s.selected.candidate.source, 0) + 1
    chosen = [s.selected.tpp for s in scored if s.selected]
    # What plain TPP (one tier) would have picked, to report what the tiers changed.
    plain: dict[str, int] = {}
    for s in scored:
        best = select(s.scored, {})
        if best is not None:
            src = next(c.candidate.source for c in s.scored if c.candidate_id == best)
            plain[src] = plain.get(src, 0) + 1
    return {
        "encoder": encoder.id,
        "alpha": cfg.tpp.alpha, "beta": cfg.tpp.beta, "epsilon": cfg.tpp.epsilon,
        "near_duplicate_cosine": cfg.tpp.near_duplicate_cosine,
        "mean_by_source": {k: float(np.mean(v)) for k, v in sorted(by_source.items())},
        "valid_by_source": {k: len(v) for k, v in sorted(by_source.items())},
        "selection": "highest TPP among valid sets of the best priority tier",
        "priority_by_source": priority,
        "selected_by_source": dict(sorted(selected.items())),
        "selected_by_source_plain_tpp": dict(sorted(plain.items())),
        "dataset_mean": float(np.mean(chosen)) if chosen else None,
    }
