"""The intrinsic measures of a text source, as pure functions of embeddings and strings.

Nothing here reads a file or loads a model: callers pass unit or raw embeddings, class
indices and texts, and get arrays and numbers back (docs/assess.md, "Intrinsic").
"""

import numpy as np

from corpus.text import NEAR_DUPLICATE_JACCARD, PERSON_WORDS, content_words, jaccard

TOP_K = (1, 5)


def unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def retrieval_ranks(texts: np.ndarray, own: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Rank of each text's own class among all class texts by cosine (0 = nearest).

    texts (M, D) embeddings of sub-texts (or sets), own (M,) their class indices,
    classes (C, D) class-text embeddings. Ties count against the text (a sub-text equally
    near two classes has not picked its own).
    """
    sim = unit(texts) @ unit(classes).T
    own_sim = sim[np.arange(len(own)), own]
    return (sim >= own_sim[:, None]).sum(axis=1) - 1


def top_k_accuracy(ranks: np.ndarray, k: int) -> float | None:
    return float(np.mean(ranks < k)) if len(ranks) else None


def confusions(sets: np.ndarray, own: np.ndarray, classes: np.ndarray) -> list[tuple]:
    """Sets nearer to another class's text than to their own: (own, other, margin) with
    margin = cos(set, other) - cos(set, own) > 0, worst first."""
    sim = unit(sets) @ unit(classes).T
    own_sim = sim[np.arange(len(own)), own]
    sim[np.arange(len(own)), own] = -np.inf
    other = sim.argmax(axis=1)
    margin = sim[np.arange(len(own)), other] - own_sim
    order = np.argsort(-margin, kind="stable")
    return [(int(own[i]), int(other[i]), float(margin[i])) for i in order if margin[i] > 0]


def set_vector(subtexts: np.ndarray) -> np.ndarray:
    """A set's direction: the mean of its unit sub-text embeddings, renormalised (as the
    zero-shot assessment and the learner's mean class embedding build it)."""
    return unit(unit(subtexts).mean(axis=0))


def stem(word: str) -> str:
    """A crude suffix strip ("brushing", "brushes", "brushed" -> "brush"): enough to see
    that an inflected class word adds nothing."""
    for suffix in ("ing", "es", "ed", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def adds_nothing(subtext: str, label: str) -> bool:
    """True when every content word of the sub-text is a class-label word (up to its
    inflection) or a word naming the actor."""
    known = {stem(w) for w in content_words(label)} | {stem(w) for w in PERSON_WORDS}
    return all(stem(w) in known for w in content_words(subtext))


def echoes(subtexts: list[str], label: str, subtext_vecs: np.ndarray, class_vec: np.ndarray,
           reference: float) -> np.ndarray:
    """(N,) bool: a sub-text echoes its class name when it adds no content word beyond the
    class label (up to inflection) and words naming the actor ("a person brushing
    hair"), or when it is at least as close to the class text as `reference`, the cosine
    of the plainest prompt template ("a video of a person {label}.") to the class text:
    it then says no more, in the encoder's eyes, than the class name in a frame. The
    reference is per class and per encoder, so no fixed cosine has to suit every
    encoder's similarity scale."""
    textual = np.array([adds_nothing(s, label) for s in subtexts], dtype=bool)
    near = unit(subtext_vecs) @ unit(class_vec) >= reference - 1e-9
    return textual | near


def near_duplicates(subtexts: list[str], subtext_vecs: np.ndarray, cosine: float) -> np.ndarray:
    """(N,) bool: a sub-text with a sibling in its own set at least `cosine` similar, or
    sharing at least NEAR_DUPLICATE_JACCARD of its words (the build's two rejection rules)."""
    n = len(subtexts)
    s = unit(subtext_vecs)
    pair = s @ s.T
    np.fill_diagonal(pair, -np.inf)
    dup = pair.max(axis=1) >= cosine if n > 1 else np.zeros(n, dtype=bool)
    for i in range(n):
        for j in range(i + 1, n):
            if jaccard(subtexts[i], subtexts[j]) >= NEAR_DUPLICATE_JACCARD:
                dup[i] = dup[j] = True
    return dup


def token_stats(counts: list[int], context: int) -> dict:
    """Token counts of a source's strings against an encoder's context length (special
    tokens included): strings longer than `context` are truncated by the encoder."""
    a = np.asarray(counts, dtype=np.int64)
    if not len(a):
        return {"context": context, "n": 0, "mean": None, "max": None, "truncated": 0}
    return {"context": context, "n": len(a), "mean": float(a.mean()), "max": int(a.max()),
            "truncated": int((a > context).sum())}
