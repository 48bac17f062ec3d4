"""Small text normalisations shared by sub-text validation and the curated linter."""

import re

# Word-set overlap (Jaccard) at which two sub-texts say the same thing in other words: a
# candidate set with such a pair is degenerate and rejected before TPP. The project's own
# curated text is held to a stricter bar by its linter, so that paraphrases within a
# class cannot pass as distinct steps.
NEAR_DUPLICATE_JACCARD = 0.8
CURATED_MAX_JACCARD = 0.7

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")

STOPWORDS = frozenset(
    "a an the and or of to in on at by for with from into onto over under up down out off "
    "is are was were be been being it its this that these those their his her them they "
    "then while as each one two both other another some any all very so".split()
)
# Words that name the actor without saying anything about the action.
PERSON_WORDS = frozenset(
    "person people man woman men women someone somebody player he she they his her "
    "individual subject guy girl boy".split()
)


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def content_words(text: str) -> set[str]:
    return {w for w in words(text) if w not in STOPWORDS}


def normalise(text: str) -> str:
    return " ".join(words(text))


def jaccard(a: str, b: str) -> float:
    wa, wb = set(words(a)), set(words(b))
    if not wa and not wb:
        return 1.0
    return len(wa & wb) / len(wa | wb)


def added_content_words(subtext: str, label: str) -> set[str]:
    """Content words of a sub-text beyond the class label and generic person words."""
    return content_words(subtext) - content_words(label) - PERSON_WORDS
