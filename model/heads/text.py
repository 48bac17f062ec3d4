"""Class text as padded tensors for the heads, built from a bundle (`ClassTexts.from_bundle`).

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

from model.bundle import Bundle


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
