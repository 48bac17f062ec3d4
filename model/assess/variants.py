"""Class-embedding matrices for training-free zero-shot, one per text variant (pure numpy).

Every variant gives each class c one unit vector e_c; a video v goes to argmax_c <v̂, e_c>.

- class name: the bundle's class-text embedding t_c.
- templates: the mean of the unit embeddings of T prompt templates filled with the label.
- set: a candidate set's sub-texts, ĝ = unit(mean_n unit(s_n)).
- class+set: unit(t̂_c + ĝ): the class text and the set with equal weight, so the set can
  only move the class's direction, not replace it.
A source covers the classes it has a valid set for; the others keep their class-name
embedding, so every variant scores all classes and its coverage is reported.

Controls (WaffleCLIP, Roth et al. 2023) are built the same way from text with no
class-specific content: random words (as many as each sub-text has), random characters
(the same lengths, spaces kept), and the source's own sets shuffled across classes.
"""

import numpy as np


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def set_embedding(pooled: np.ndarray) -> np.ndarray:
    """ĝ for one set's sub-text embeddings (N, D)."""
    return unit(unit(pooled).mean(0))


def with_class(class_vec: np.ndarray, set_vec: np.ndarray) -> np.ndarray:
    return unit(unit(class_vec) + unit(set_vec))


def source_matrix(class_emb: np.ndarray, set_vecs: dict[int, np.ndarray],
                  add_class: bool) -> np.ndarray:
    """(C, D): classes in `set_vecs` (class index -> ĝ) take their set (with the class text
    when `add_class`), the rest their class-name embedding."""
    out = unit(class_emb.copy())
    for c, g in set_vecs.items():
        out[c] = with_class(class_emb[c], g) if add_class else unit(g)
    return out


def template_matrix(template_emb: np.ndarray) -> np.ndarray:
    """(C, T, D) embeddings of each class's filled templates -> (C, D)."""
    return unit(unit(template_emb).mean(1))


def scores(videos: np.ndarray, class_matrix: np.ndarray) -> np.ndarray:
    """Cosine similarity (V, C) of video embeddings (V, D) to class embeddings (C, D)."""
    return unit(videos) @ unit(class_matrix).T


def derangement(n: int, rng: np.random.Generator) -> np.ndarray:
    """A permutation with no fixed point (n >= 2): every class gets another class's set."""
    while True:
        perm = rng.permutation(n)
        if n < 2 or not np.any(perm == np.arange(n)):
            return perm


def random_words(texts: list[str], vocabulary: list[str], rng: np.random.Generator) -> list[str]:
    """Strings of as many random vocabulary words as each text has words."""
    return [" ".join(rng.choice(vocabulary, size=max(1, len(t.split())))) for t in texts]


LETTERS = np.array(list("abcdefghijklmnopqrstuvwxyz"))


def random_characters(texts: list[str], rng: np.random.Generator) -> list[str]:
    """Random lowercase letters with each text's length and its spaces where they were."""
    return ["".join(" " if ch == " " else rng.choice(LETTERS) for ch in t) for t in texts]
