"""Word-sense disambiguation of single-word entities on WordNet 3.0.

Three ways to pick a sense among the word's WordNet synsets of the right part of
speech, all given a context (the class name plus a description of the action):

- `lesk`: NLTK's simplified Lesk (`nltk.wsd.lesk`): the sense whose gloss shares
  most words with the context.
- `embedding`: cosine between the context and each sense's "lemma names: gloss",
  both embedded by all-MiniLM-L6-v2 (the paper's learned WSD model is not public;
  this sentence-embedding similarity stands in for it [ours]).
- `combined` (the default): the embedding cosine plus a WordNet sense-frequency
  prior (SemCor lemma counts) plus a small bonus for the sense whose kind
  (kinds.py) is the kind the source gave. Weights in COMBINED_WEIGHTS, chosen on
  the dev half of tests/data/wsd_eval.jsonl (docs/entities.md).

Every method returns the chosen synset, a confidence in [0, 1] and the runner-up.
"""

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache

import numpy as np

from corpus.entities.kinds import wordnet_kind
from corpus.entities.models import sentence_encoder, wordnet

METHODS = ("lesk", "embedding", "combined")
DEFAULT_METHOD = "combined"

# combined score = cosine + prior * log P(sense | word) + kind * [sense kind == source kind]
COMBINED_WEIGHTS = {"prior": 0.02, "kind": 0.10}
# Softmax temperature that turns cosine-scale scores into a confidence.
CONFIDENCE_TEMPERATURE = 0.05
ENCODE_BATCH = 128

_TOKEN = re.compile(r"[a-z]+")


@dataclass(frozen=True)
class SenseChoice:
    """One word's sense as one method chose it."""

    word: str
    pos: str
    method: str
    synset: str | None  # e.g. "bat.n.05"; None when WordNet has no sense of that POS
    confidence: float
    runner_up: str | None
    gloss: str | None

    def as_dict(self) -> dict:
        return {"synset": self.synset, "method": self.method,
                "confidence": round(self.confidence, 4), "runner_up": self.runner_up,
                "gloss": self.gloss}


@dataclass(frozen=True)
class SenseScores:
    """Every candidate sense of a word in one context, scored by every method."""

    word: str
    pos: str
    candidates: tuple[str, ...]
    lesk_overlap: np.ndarray  # (S,) shared words between context and gloss
    lesk_pick: str | None  # what nltk.wsd.lesk itself returns (its tie-breaking)
    cosine: np.ndarray  # (S,) MiniLM cosine(context, "lemmas: gloss")
    log_prior: np.ndarray  # (S,) log P(sense | word) from lemma counts, add-one smoothed
    kind_match: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (S,) 0/1

    def scores(self, method: str) -> np.ndarray:
        if method == "lesk":
            return self.lesk_overlap.astype(np.float64)
        if method == "embedding":
            return self.cosine.astype(np.float64)
        if method == "combined":
            score = self.cosine + COMBINED_WEIGHTS["prior"] * self.log_prior
            if self.kind_match.size:
                score = score + COMBINED_WEIGHTS["kind"] * self.kind_match
            return score.astype(np.float64)
        raise ValueError(f"unknown WSD method {method!r}; choose from {METHODS}")

    def choose(self, method: str = DEFAULT_METHOD) -> SenseChoice:
        if not self.candidates:
            return SenseChoice(self.word, self.pos, method, None, 0.0, None, None)
        scores = self.scores(method)
        order = [int(i) for i in np.argsort(-scores, kind="stable")]
        if method == "lesk":
            best = self.candidates.index(self.lesk_pick)
            order = [best] + [i for i in order if i != best]
            total = float(scores.sum())
            confidence = float(scores[best] / total) if total > 0 else 0.0
        else:
            probs = _softmax(scores / CONFIDENCE_TEMPERATURE)
            best, confidence = order[0], float(probs[order[0]])
        runner_up = self.candidates[order[1]] if len(order) > 1 else None
        name = self.candidates[best]
        return SenseChoice(self.word, self.pos, method, name, confidence, runner_up,
                           gloss(name))


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


def context_tokens(context: str) -> list[str]:
    return _TOKEN.findall(context.lower())


@cache
def candidate_synsets(word: str, pos: str) -> tuple[str, ...]:
    """The word's WordNet senses of one part of speech, in WordNet's order (NLTK
    applies morphy: "rings" finds rings.n.01 and the senses of "ring")."""
    return tuple(s.name() for s in wordnet().synsets(word.replace(" ", "_"), pos=pos))


@cache
def gloss(synset_name: str) -> str:
    return wordnet().synset(synset_name).definition()


@cache
def gloss_text(synset_name: str) -> str:
    """What the embedding method compares the context with: "lemma names: gloss"."""
    synset = wordnet().synset(synset_name)
    names = ", ".join(n.replace("_", " ") for n in synset.lemma_names())
    return f"{names}: {synset.definition()}"


@cache
def log_prior(word: str, pos: str) -> tuple[float, ...]:
    """log P(sense | word) from WordNet's tagged-corpus lemma counts, add-one smoothed,
    so unseen senses keep a little mass and a word with no counts gets a flat prior."""
    wn = wordnet()
    forms = {word.replace(" ", "_").lower(), *(wn._morphy(word.lower(), pos) or [])}
    counts = []
    for name in candidate_synsets(word, pos):
        lemmas = wn.synset(name).lemmas()
        counts.append(sum(lem.count() for lem in lemmas if lem.name().lower() in forms))
    total = sum(counts) + len(counts)
    return tuple(math.log((c + 1) / total) for c in counts)


class _Embeddings:
    """Unit vectors of glosses and contexts: computed in batches through the project's
    embedding cache (so a rerun reads them from disk) and kept per process."""

    def __init__(self) -> None:
        self.vectors: dict[str, np.ndarray] = {}
        self.cache = None

    def get(self, texts: Sequence[str]) -> list[np.ndarray]:
        todo = [t for t in dict.fromkeys(texts) if t not in self.vectors]
        if todo:
            from corpus.encoders import EmbeddingCache

            if self.cache is None:
                self.cache = EmbeddingCache()
            encoded = self.cache.embed(sentence_encoder(), todo, batch_size=ENCODE_BATCH)
            for text in todo:
                v = encoded[text].pooled.astype(np.float32)
                self.vectors[text] = v / max(float(np.linalg.norm(v)), 1e-12)
        return [self.vectors[t] for t in texts]


_EMBEDDINGS = _Embeddings()


def lesk_overlaps(context: Sequence[str], candidates: Sequence[str]) -> np.ndarray:
    """NLTK's Lesk score for each candidate: |context words ∩ gloss words|."""
    wn = wordnet()
    ctx = set(context)
    return np.array([len(ctx.intersection(wn.synset(c).definition().split()))
                     for c in candidates], dtype=np.int64)


def score_many(items: Sequence[tuple[str, str, str, str | None]]) -> list[SenseScores]:
    """Score every candidate sense of many (word, context, pos, source kind) at once:
    glosses and contexts are embedded in batches."""
    from nltk.wsd import lesk

    wn = wordnet()
    cands = [candidate_synsets(w, p) for w, _, p, _ in items]
    _EMBEDDINGS.get([gloss_text(c) for cs in cands for c in cs]
                    + [ctx for (_, ctx, _, _), cs in zip(items, cands, strict=True) if cs])
    out = []
    for (word, context, pos, kind), cs in zip(items, cands, strict=True):
        if not cs:
            empty = np.zeros(0)
            out.append(SenseScores(word, pos, (), empty, None, empty, empty, empty))
            continue
        tokens = context_tokens(context)
        pick = lesk(tokens, word.replace(" ", "_"), pos, synsets=[wn.synset(c) for c in cs])
        ctx_vec = _EMBEDDINGS.get([context])[0]
        gloss_vecs = np.stack(_EMBEDDINGS.get([gloss_text(c) for c in cs]))
        kind_match = np.array([float(kind is not None and wordnet_kind(c) == kind)
                               for c in cs])
        out.append(SenseScores(word, pos, cs, lesk_overlaps(tokens, cs),
                               pick.name() if pick is not None else cs[0],
                               gloss_vecs @ ctx_vec, np.array(log_prior(word, pos)),
                               kind_match))
    return out


def disambiguate(word: str, context: str, pos: str = "n", method: str = DEFAULT_METHOD,
                 kind: str | None = None) -> SenseChoice:
    """The sense of `word` in `context` by one method; `kind` is the source's kind
    (objects, body_parts, ...), used by the combined method only."""
    return score_many([(word, context, pos, kind)])[0].choose(method)


def disambiguate_many(items: Sequence[tuple[str, str, str, str | None]],
                      methods: Sequence[str] = METHODS) -> list[dict[str, SenseChoice]]:
    """Every method's choice for each (word, context, pos, kind)."""
    return [{m: s.choose(m) for m in methods} for s in score_many(items)]
