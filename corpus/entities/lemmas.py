"""Entity text -> the lemma WordNet spells it with, and WordNet's compounds in phrases.

WordNet spells some nouns with a hyphen (`sit-up`), some as one word (`pushup`), some
with an underscore for a space (`baseball_glove`), and keeps a few plurals as lemmas
of their own (`rings`, the gymnastic apparatus; `parallel_bars`). `wordnet_spelling`
tries those spellings in order; NLTK's morphy then finds inflected forms
(`baseball_gloves` -> `baseball_glove`).

`compound_match` finds the longest run of a phrase's words that WordNet lists as one
noun and that holds the head word (spaCy's; the last word by default, English
compounds being head-final): `leather baseball glove` -> `baseball_glove` + modifier
`leather`, `person doing makeup` (head `person`) -> `person`. When no run holds the
head, the longest run elsewhere is recorded with `holds_head` False (`discus thrower`
-> `discus`): WordNet lacks the thing the phrase names, so no sense of it is chosen.
"""

from dataclasses import dataclass
from functools import cache

from corpus.entities.models import wordnet


def spellings(text: str) -> list[str]:
    """The spellings of a word or phrase WordNet may use, most literal first."""
    text = text.strip().lower()
    words = text.replace("-", " ").split()
    variants = ["_".join(text.split()), "_".join(words), "-".join(words), "".join(words)]
    return list(dict.fromkeys(v for v in variants if v))


@cache
def wordnet_spelling(text: str, pos: str = "n") -> str | None:
    """The first spelling of `text` WordNet has senses of (morphy included), or None.
    A closed compound WordNet spells open is split where both halves are words
    (`wetsuit` -> `wet_suit`, `wicketkeeper` -> `wicket-keeper`)."""
    wn = wordnet()
    for variant in spellings(text):
        if wn.synsets(variant, pos=pos):
            return variant
    if " " not in text and "-" not in text and len(text) >= 6:
        for i in range(3, len(text) - 2):
            left, right = text[:i], text[i:]
            if wn.synsets(left) and wn.synsets(right, pos=pos):
                for variant in (f"{left}_{right}", f"{left}-{right}"):
                    if wn.synsets(variant, pos=pos):
                        return variant
    return None


@cache
def exact_lemma_synsets(text: str, pos: str = "n") -> tuple[str, ...]:
    """Senses that list `text` itself (any spelling) as a lemma — no morphy, so
    "rings" finds rings.n.01 only and "arms" finds weaponry.n.01 and coat_of_arms.n.01."""
    wn = wordnet()
    out: list[str] = []
    for variant in spellings(text):
        for lemma in wn.lemmas(variant, pos=pos):
            if lemma.name().lower() == variant and lemma.synset().name() not in out:
                out.append(lemma.synset().name())
    return tuple(out)


@dataclass(frozen=True)
class CompoundMatch:
    """The part of a phrase WordNet lists as one noun."""

    lemma: str  # WordNet's spelling, e.g. "baseball_glove"
    start: int  # index of its first word in the phrase
    end: int  # one past its last word
    n_words: int  # words in the whole phrase
    holds_head: bool = True  # False: the match is a modifier ("discus" in "discus thrower")

    @property
    def whole(self) -> bool:
        return self.start == 0 and self.end == self.n_words

    def modifiers(self, phrase: str) -> list[str]:
        """The phrase's words outside the match."""
        words = phrase.split()
        return words[:self.start] + words[self.end:]


@cache
def compound_match(phrase: str, head: str | None = None, pos: str = "n") -> CompoundMatch | None:
    """The longest run of words WordNet knows as one `pos` that contains the head word
    (`head`, spaCy's head lemma; the last word when not given: English compounds are
    head-final), the rightmost of equally long runs; else the longest run anywhere,
    with `holds_head` False. None when WordNet knows no word of the phrase."""
    words = phrase.split()
    n = len(words)
    h = n - 1
    if head is not None:
        at = [i for i, w in enumerate(words) if w == head or w.startswith(head[:4])]
        h = at[-1] if at else h
    runs = sorted(((s, e) for s in range(n) for e in range(s + 1, n + 1)),
                  key=lambda r: (not r[0] <= h < r[1], -(r[1] - r[0]), -r[0]))
    for start, end in runs:
        lemma = wordnet_spelling(" ".join(words[start:end]), pos)
        if lemma:
            return CompoundMatch(lemma, start, end, n, start <= h < end)
    return None
