"""Text for the heads as tensors, built from a bundle: class text (`ClassTexts`), the
ASU semantic units (`SemanticUnits`) and the ALT entity corpus (`Entities`).
`KNOWLEDGE` maps the name a head lists in its `knowledge` attribute to the loader that
`create_head` calls, so a head that needs units gets them without an if/elif.

Choices the papers leave open (documented in docs/learner.md):
- The start-of-text row is dropped from word embeddings: under CLIP's causal mask it
  attends only to itself, so it is the same vector for every text and would only add a
  constant to every word–frame similarity. The end-of-text row (the pooled one) is kept.
- A class with no selected sub-texts (status `failed`) uses its own class words as its
  single sub-text, so the fine branch falls back to class-text guidance.
"""

from dataclasses import dataclass

import numpy as np
import torch

import contract
from model.bundle import Bundle, Knowledge
from model.errors import LearnerError


def _pad(arrays: list[np.ndarray], length: int, dim: int) -> tuple[np.ndarray, np.ndarray]:
    out = np.zeros((len(arrays), length, dim), dtype=np.float32)
    mask = np.zeros((len(arrays), length), dtype=bool)
    for i, a in enumerate(arrays):
        out[i, : len(a)], mask[i, : len(a)] = a, True
    return out, mask


@dataclass
class ClassTexts:
    pooled: torch.Tensor  # (C, D) t_c
    words: torch.Tensor  # (C, W, D) T_c, zero-padded
    word_mask: torch.Tensor  # (C, W) True on real words
    subwords: torch.Tensor  # (C, N, S, D) S_c,n, zero-padded
    sub_mask: torch.Tensor  # (C, N, S) True on real words; all False for a missing sub-text

    @property
    def num_classes(self) -> int:
        return self.pooled.shape[0]

    def to(self, device) -> "ClassTexts":
        return ClassTexts(*(getattr(self, f).to(device) for f in self.__dataclass_fields__))

    def subset(self, classes) -> "ClassTexts":
        idx = torch.as_tensor(classes, dtype=torch.long)
        return ClassTexts(*(getattr(self, f)[idx] for f in self.__dataclass_fields__))

    @classmethod
    def from_bundle(cls, bundle: Bundle, drop_sot: bool = True) -> "ClassTexts":
        start = 1 if drop_sot else 0
        dim = bundle.dim
        words = [c.words[start:] for c in bundle.classes]
        subs = [[s[start:] for s in c.subtext_words] or [c.words[start:]]
                for c in bundle.classes]
        w, wm = _pad(words, max(len(a) for a in words), dim)
        n_max = max(len(s) for s in subs)
        s_max = max(len(a) for s in subs for a in s)
        sw = np.zeros((len(subs), n_max, s_max, dim), dtype=np.float32)
        sm = np.zeros((len(subs), n_max, s_max), dtype=bool)
        for c, group in enumerate(subs):
            sw[c, : len(group)], sm[c, : len(group)] = _pad(group, s_max, dim)
        pooled = np.stack([c.pooled for c in bundle.classes])
        return cls(*(torch.from_numpy(a) for a in (pooled, w, wm, sw, sm)))


# The contract's four unit kinds of ASU (docs/methods.md §2), in its fixed order so that a
# kind's index (and a head's learned kind embedding) means the same in every bundle; any
# other kind is "other".
UNIT_KINDS = (*contract.UNIT_KINDS, "other")


@dataclass
class Vocabulary:
    """A bundle's knowledge items as tensors, in the bundle's sorted order: ASU's semantic
    units or ALT's entity corpus (the two differ only in where they come from)."""

    pooled: torch.Tensor  # (N, D) pooled text embeddings
    kinds: torch.Tensor  # (N,) index into kind_names
    kind_names: tuple[str, ...]
    class_mask: torch.Tensor  # (C, N) True where class c produced / links to item n
    ids: list[str]  # item id per row
    texts: list[str]

    def __len__(self) -> int:
        return self.pooled.shape[0]

    @classmethod
    def from_knowledge(cls, bundle: Bundle, knowledge: Knowledge, what: str,
                       kind_names: tuple[str, ...] | None = None):
        encoder = bundle.encoder["id"]
        if not knowledge.present or not knowledge.items:
            raise LearnerError(f"{bundle.root}: the bundle has no {knowledge.table} "
                               f"({knowledge.table}.parquet absent or empty), which {what} "
                               f"needs; rebuild it with a corpus that has unit sources")
        missing = [i.item_id for i in knowledge.items if i.pooled is None]
        if missing:
            raise LearnerError(f"{bundle.root}: embeddings/{encoder}.parquet has no "
                               f"{knowledge.table} embeddings for {len(missing)} of "
                               f"{len(knowledge.items)} items (e.g. {missing[:3]}), which "
                               f"{what} needs; rebuild the bundle with encoder {encoder!r}")
        if kind_names is None:
            kind_names = tuple(sorted({i.kind for i in knowledge.items}))
        position = {i.item_id: n for n, i in enumerate(knowledge.items)}
        mask = torch.zeros(len(bundle.classes), len(knowledge.items), dtype=torch.bool)
        row = {c.class_id: n for n, c in enumerate(bundle.classes)}
        for class_id, item_id, _score in knowledge.class_links:
            if class_id in row and item_id in position:
                mask[row[class_id], position[item_id]] = True
        pooled = torch.from_numpy(np.stack([i.pooled for i in knowledge.items]))
        kinds = torch.tensor([kind_names.index(i.kind) if i.kind in kind_names
                              else len(kind_names) - 1 for i in knowledge.items])
        return cls(pooled, kinds, kind_names, mask, [i.item_id for i in knowledge.items],
                   [i.text for i in knowledge.items])


class SemanticUnits(Vocabulary):
    """ASU's shared semantic-unit vocabulary (docs/methods.md §2); kinds in UNIT_KINDS order."""

    @classmethod
    def from_bundle(cls, bundle: Bundle) -> "SemanticUnits":
        return cls.from_knowledge(bundle, bundle.units, "the asu head", UNIT_KINDS)


class Entities(Vocabulary):
    """ALT's entity corpus (docs/methods.md §3, §5): one row per entity, embedded as
    `entity_template` ("{entity}, {description}") by the bundle's text encoder."""

    @classmethod
    def from_bundle(cls, bundle: Bundle) -> "Entities":
        return cls.from_knowledge(bundle, bundle.entities, "the alt head")


# Constructor argument name -> loader; a head lists the names it needs in `knowledge`.
KNOWLEDGE = {"semantic_units": SemanticUnits.from_bundle, "entities": Entities.from_bundle}
