"""How many tokens a text is to CLIP, and cutting a text to fit.

CLIP's text context is 77 BPE tokens including the start and end tokens; the encoder
silently drops what does not fit, so every text that enters a bundle is counted here
first, with the merges file open_clip's tokenizer reads (`bpe_simple_vocab_16e6.txt.gz`)
and the same text clean-up and word pattern.

Counting does not import open_clip: importing it loads torch and transformers, ~700 MB
that a default build (no CLIP encoder configured) otherwise never needs.
tests/corpus/test_token_lengths.py holds these counts to open_clip's tokenizer.
"""

import gzip
import html
import importlib.util
import itertools
from functools import cache
from pathlib import Path

CLIP_CONTEXT = 77
N_MERGES = 49152 - 256 - 2  # CLIP's vocabulary: 256 bytes x2, the merges, 2 specials
WORD = r"""'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""


def _byte_alphabet() -> dict[int, str]:
    """GPT-2/CLIP's reversible byte -> printable character map."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
                 *range(ord("®"), ord("ÿ") + 1)]
    others = [b for b in range(256) if b not in printable]
    return {**{b: chr(b) for b in printable},
            **{b: chr(256 + i) for i, b in enumerate(others)}}


class ClipBpe:
    """Counts CLIP BPE tokens of a text (the pieces, not their ids)."""

    def __init__(self, merges_file: Path) -> None:
        import ftfy
        import regex

        with gzip.open(merges_file) as f:
            lines = f.read().decode("utf-8").split("\n")[1 : N_MERGES + 1]
        self.ranks = {tuple(line.split()): rank for rank, line in enumerate(lines)}
        self.alphabet = _byte_alphabet()
        self.word = regex.compile(WORD, regex.IGNORECASE)
        self.pieces_of: dict[str, int] = {}
        self.fix_text = ftfy.fix_text

    def clean(self, text: str) -> str:
        text = html.unescape(html.unescape(self.fix_text(text))).strip()
        return " ".join(text.split()).lower()

    def pieces(self, word: str) -> int:
        """Pieces of one word after merging, lowest-ranked adjacent pair first."""
        if word not in self.pieces_of:
            parts = [*word[:-1], word[-1] + "</w>"]
            while len(parts) > 1:
                pairs = set(itertools.pairwise(parts))
                best = min(pairs, key=lambda p: self.ranks.get(p, len(self.ranks)))
                if best not in self.ranks:
                    break
                merged, i = [], 0
                while i < len(parts):
                    if i + 1 < len(parts) and (parts[i], parts[i + 1]) == best:
                        merged.append(parts[i] + parts[i + 1])
                        i += 2
                    else:
                        merged.append(parts[i])
                        i += 1
                parts = merged
            self.pieces_of[word] = len(parts)
        return self.pieces_of[word]

    def count(self, text: str) -> int:
        """BPE tokens of `text`, without start and end."""
        words = self.word.findall(self.clean(text))
        return sum(self.pieces("".join(self.alphabet[b] for b in w.encode("utf-8")))
                   for w in words)


@cache
def _bpe() -> ClipBpe:
    spec = importlib.util.find_spec("open_clip")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("open_clip_torch is not installed: CLIP token counts need its "
                          "BPE merges file (make setup installs it)")
    return ClipBpe(Path(spec.submodule_search_locations[0]) / "bpe_simple_vocab_16e6.txt.gz")


def clip_token_counts(texts: list[str]) -> list[int]:
    """Tokens per text as CLIP sees it: the BPE tokens plus start and end."""
    bpe = _bpe()
    return [bpe.count(t) + 2 for t in texts]


def fit_clip_context(text: str, max_chars: int | None = None) -> str:
    """The longest prefix of whole words within CLIP's context (and max_chars)."""
    words = text.split()
    bpe = _bpe()
    while words:
        candidate = " ".join(words)
        if bpe.count(candidate) + 2 <= CLIP_CONTEXT and (
                max_chars is None or len(candidate) <= max_chars):
            return candidate
        words.pop()
    return ""
