"""How many tokens a text is to CLIP, and cutting a text to fit.

CLIP's text context is 77 BPE tokens including the start and end tokens; the encoder
silently drops what does not fit, so every text that enters a bundle is counted here
first (`open_clip`'s tokenizer, the one the CLIP encoders use).
"""

from functools import cache

CLIP_CONTEXT = 77


@cache
def _bpe():
    from open_clip.tokenizer import SimpleTokenizer

    return SimpleTokenizer()


def clip_token_counts(texts: list[str]) -> list[int]:
    """Tokens per text as CLIP sees it: the BPE tokens plus start and end."""
    bpe = _bpe()
    return [len(bpe.encode(t)) + 2 for t in texts]


def fit_clip_context(text: str, max_chars: int | None = None) -> str:
    """The longest prefix of whole words within CLIP's context (and max_chars)."""
    words = text.split()
    bpe = _bpe()
    while words:
        candidate = " ".join(words)
        if len(bpe.encode(candidate)) + 2 <= CLIP_CONTEXT and (
                max_chars is None or len(candidate) <= max_chars):
            return candidate
        words.pop()
    return ""
