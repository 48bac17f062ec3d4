"""Extraction and normalisation of semantic units and entities with spaCy.

A unit from any source (an LLM reply, the curated files, a class name) becomes its
normal form: lower-case, accents folded, determiners and possessives stripped
("the athlete's bat" -> "bat", "his hands" -> "hand"), compounds kept ("baseball
bat"), the head noun lemmatised ("baseball bats" -> "baseball bat"; modifiers keep
their surface form so "running shoes" stays "running shoe"), and for motions every
verb and noun lemmatised ("swinging his arms" -> "swing arm"). Junk is rejected
with a reason instead of raising, so one bad reply never stops a run.

Short fragments are parsed with a neutral prefix ("the ..." for nouns, "they ..."
for motions): bare fragments such as "cliff face" or "tap foot" are otherwise
tagged as verbs or nouns at random. The prefix tokens are dropped after parsing.
"""

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import partial

from corpus.entities.kinds import ENTITY_KINDS, MOTIONS, is_deverbal, wordnet_kind
from corpus.entities.lemmas import exact_lemma_synsets
from corpus.entities.models import spacy_pipeline, wordnet
from corpus.text import PERSON_WORDS

MAX_WORDS = 4
NOUN_PREFIX = "the "
MOTION_PREFIX = "they "

# Nouns whose plural is the thing itself although WordNet spells them in the singular
# ("trousers" is trouser.n.01): lemmatising would change the meaning. Plurals WordNet
# lists as lemmas ("rings", "goggles") are found in WordNet (_keeps_plural).
PLURALE_TANTUM = frozenset(
    "glasses sunglasses eyeglasses goggles binoculars scissors shears tongs pliers tweezers "
    "pants trousers shorts jeans leggings tights overalls pajamas pyjamas clothes briefs "
    "trunks headphones earphones earbuds handcuffs stairs suds".split()
)

# Why a unit was rejected.
EMPTY = "empty"
NO_LETTERS = "no letters (numbers or punctuation only)"
SYMBOLS = "contains emoji or symbols"
NON_LATIN = "non-Latin script (not English)"
TOO_LONG = f"more than {MAX_WORDS} words"
NOT_ENGLISH = "not English-looking (no known English words)"
ONLY_FUNCTION_WORDS = "only determiners or pronouns"

_CONTENT_POS = {"NOUN", "PROPN", "VERB", "ADJ", "ADV", "NUM", "X"}
_ALLOWED_PUNCT = set(" -'’.,/&()")
_LIST_SPLIT = re.compile(r"\s*(?:[;\n•]|,\s)\s*")
_LEADING_BULLET = re.compile(r"^\s*(?:[-*•]+|\d+[.)])\s+")


@dataclass(frozen=True)
class Normalised:
    """One raw unit and what became of it: `text` is None exactly when rejected."""

    raw: str
    kind: str | None
    text: str | None  # the normal form, the de-duplication key
    head: str | None  # lemma of the head noun (nouns) or of the main verb (motions)
    n_words: int
    reason: str | None  # why it was rejected; None when accepted

    @property
    def ok(self) -> bool:
        return self.text is not None


def _reject(raw: str, kind: str | None, reason: str, n_words: int = 0) -> Normalised:
    return Normalised(raw, kind, None, None, n_words, reason)


def _fold(text: str) -> str:
    """NFKC, accents folded ("café" -> "cafe"), curly quotes straightened."""
    text = unicodedata.normalize("NFKC", text).replace("’", "'").replace("‘", "'")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def precheck(raw: str) -> tuple[str | None, str | None]:
    """(cleaned text, None) or (None, reason) for the checks that need no parser."""
    if not isinstance(raw, str):
        return None, EMPTY
    text = _LEADING_BULLET.sub("", _fold(raw)).strip().strip("\"'`.,;:!?").strip()
    if not text:
        return None, EMPTY
    for c in text:
        if c.isalpha() and not unicodedata.name(c, "").startswith("LATIN"):
            return None, NON_LATIN
    for c in text:
        if not (c.isalnum() or c in _ALLOWED_PUNCT):
            return None, SYMBOLS
    if not any(c.isalpha() for c in text):
        return None, NO_LETTERS
    return " ".join(text.lower().split()), None


def split_items(reply: str) -> list[str]:
    """A reply that lists several units in one string ("rope, harness; helmet") ->
    the items. Only list punctuation splits: "push and pull" stays one motion."""
    if not isinstance(reply, str):
        return [reply]
    return [p for p in _LIST_SPLIT.split(reply) if p.strip()]


def _is_known_word(word: str) -> bool:
    wn = wordnet()
    return bool(wn._morphy(word, "n") or wn._morphy(word, "v") or wn._morphy(word, "a")
                or wn._morphy(word, "r")) or word in spacy_pipeline().Defaults.stop_words


def _strip_tokens(doc, skip: int) -> list:
    """The phrase's tokens without the parse prefix, determiners, possessive pronouns,
    possessors with their "'s", and punctuation."""
    dropped: set[int] = set(range(skip))
    for tok in doc:
        if tok.i < skip:
            continue
        if tok.dep_ == "poss" and tok.tag_ != "PRP$":
            dropped.update(t.i for t in tok.subtree)  # "the athlete's" in "the athlete's bat"
        elif (tok.pos_ == "DET" or (tok.pos_ == "PUNCT" and tok.tag_ != "HYPH")
              or tok.tag_ in ("PRP$", "POS", "WP$")):
            dropped.add(tok.i)
    return [t for t in doc if t.i not in dropped]


def _join(tokens: list, words: list[str]) -> str:
    """Words joined as the tokens were spaced, so "t-shirt" stays one word."""
    text = "".join(w + (" " if t.whitespace_ else "") for t, w in zip(tokens, words,
                                                                     strict=True))
    return " ".join(text.split())


def _keeps_plural(surface: str, kind: str | None) -> bool:
    """A plural WordNet lists as a lemma of its own, in a sense of the source's kind
    (`rings` the gymnastic apparatus, `parallel bars`): lemmatising would lose that
    sense. [ours] The kind guards against plurals WordNet lists for another sense:
    `arms` among body parts are arms, not weaponry. A noun from a class name (no kind
    yet) keeps its plural when that sense is a thing, place, person or body part."""
    if surface in PLURALE_TANTUM:
        return True
    kinds = {wordnet_kind(s) for s in exact_lemma_synsets(surface)}
    if kind in ENTITY_KINDS:
        return kind in kinds
    return kind != MOTIONS and bool(kinds - {None})


def _noun_form(tokens: list, kind: str | None = None) -> tuple[str, str]:
    """(normal form, head lemma) of a noun phrase: only the head noun is lemmatised, and
    not when WordNet spells the phrase (or the head) with its plural."""
    nouns = [t for t in tokens if t.pos_ in ("NOUN", "PROPN")]
    roots = [t for t in nouns if t.head.i == t.i or t.head not in tokens]
    last = tokens[-1]
    if (not roots and last.head.i == last.i and last.tag_ not in ("VBG", "VBN")
            and wordnet().synsets(last.text.lower(), pos="n")):
        # the parse's root is the last word, tagged as something else: English compounds
        # are head-final, and the source gave a thing ("ice shanty": "shanty" parsed as
        # a verb made "ice" the head) [ours]; a participle stays what it is ("parent
        # pushing")
        roots = [last]
    head = roots[0] if roots else (nouns[-1] if nouns else tokens[-1])
    surface = _join(tokens, [t.text.lower() for t in tokens])
    plural = head.tag_ in ("NNS", "NNPS") and not (
        _keeps_plural(surface, kind) or _keeps_plural(head.text.lower(), kind))
    words = [t.lemma_.lower() if plural and t.i == head.i else t.text.lower()
             for t in tokens]
    return _join(tokens, words), (head.lemma_ if plural else head.text).lower()


def _motion_form(tokens: list) -> tuple[str, str]:
    """(normal form, main verb lemma) of a motion: verbs and nouns lemmatised."""
    words = [t.lemma_.lower() if t.pos_ in ("VERB", "NOUN", "AUX") else t.text.lower()
             for t in tokens]
    verbs = [t for t in tokens if t.pos_ == "VERB"]
    head = verbs[0].lemma_.lower() if verbs else words[0]
    return _join(tokens, words), head


def _finish(raw: str, kind: str | None, doc, skip: int) -> Normalised:
    tokens = _strip_tokens(doc, skip)
    if not any(t.pos_ in _CONTENT_POS or (t.is_alpha and not t.is_stop) for t in tokens):
        return _reject(raw, kind, ONLY_FUNCTION_WORDS)
    if len(tokens) > MAX_WORDS:
        return _reject(raw, kind, TOO_LONG, len(tokens))
    alpha = [t.text.lower() for t in tokens if t.is_alpha]
    if len(alpha) >= 2 and sum(map(_is_known_word, alpha)) * 2 < len(alpha):
        return _reject(raw, kind, NOT_ENGLISH, len(tokens))
    text, head = _motion_form(tokens) if kind == MOTIONS else _noun_form(tokens, kind)
    return Normalised(raw, kind, text, head, len(text.split()), None)


def normalise_units(texts: Sequence[str], kind: str | None = None,
                    batch_size: int = 256) -> list[Normalised]:
    """Normalise many units of one kind (motions are verb phrases, every other kind a
    noun phrase), parsed in batches with nlp.pipe. One result per input, in order."""
    prefix = MOTION_PREFIX if kind == MOTIONS else NOUN_PREFIX
    results: list[Normalised | None] = [None] * len(texts)
    todo: list[tuple[int, str]] = []
    for i, raw in enumerate(texts):
        clean, reason = precheck(raw)
        if reason is not None:
            results[i] = _reject(raw if isinstance(raw, str) else repr(raw), kind, reason)
        elif len(clean.split()) > 3 * MAX_WORDS:  # no need to parse a paragraph
            results[i] = _reject(raw, kind, TOO_LONG, len(clean.split()))
        else:
            todo.append((i, clean))
    nlp = spacy_pipeline()
    skip = len(nlp.tokenizer(prefix.strip()))
    docs = nlp.pipe((prefix + clean for _, clean in todo), batch_size=batch_size)
    for (i, _), doc in zip(todo, docs, strict=True):
        results[i] = _finish(texts[i], kind, doc, skip)
    return results  # type: ignore[return-value]


def normalise_unit(text: str, kind: str | None = None) -> str | None:
    """The normal form of one unit, or None when it is rejected (see normalise_units
    for the reason)."""
    return normalise_units([text], kind)[0].text


def _plural_noun(tok) -> bool:
    """A word the parser took for a verb that WordNet lists as a plural noun of its own
    ("rings" in "still rings", "bars" in "parallel bars")."""
    return tok.tag_ == "VBZ" and any(wordnet_kind(s) for s in exact_lemma_synsets(tok.text))


def _is_action(tok, has_verb: bool) -> bool:
    """A word of a class name that is the action: a verb, or a noun naming an action
    at the start of the name (not one that modifies the next action word: "rock" in
    "rock climbing") or as its root when the name has no verb ("swing" in "golf swing")."""
    if tok.pos_ == "VERB":
        return not _plural_noun(tok)
    if not is_deverbal(tok.lemma_.lower()):
        return False
    doc = tok.doc
    if tok.i == 0:
        nxt = doc[1] if len(doc) > 1 else None
        return nxt is None or not (nxt.pos_ == "VERB" or is_deverbal(nxt.lemma_.lower()))
    return tok.dep_ == "ROOT" and not has_verb


def class_name_units(labels: Sequence[str], batch_size: int = 256
                     ) -> list[list[tuple[str, str]]]:
    """Units in action names, as the entity route of Align before Adapt extracts them:
    for each label, (kind, raw phrase) pairs — its noun chunks (kind None: typed later
    by WordNet) and its verbs (motions). Bracketed qualifiers count ("punching person
    (boxing)"); generic person words ("person", "man") are left out. A noun that carries
    the class name (its first word or its root) and names an action (kinds.is_deverbal:
    "clap", "golf", "cartwheel", "ride" in "ride horse") is the class's own verb, so a
    motion, not an object. A name WordNet lists as one noun ("parallel bars") is that
    thing, whatever the parser makes of it."""
    nlp = spacy_pipeline()
    out = []
    for doc in nlp.pipe((_fold(label).lower().replace("_", " ") for label in labels),
                        batch_size=batch_size):
        found: list[tuple[str | None, str]] = []
        in_chunks: set[int] = set()
        if len(doc) > 1 and exact_lemma_synsets(doc.text):  # "parallel bars", "pommel horse"
            out.append([(None, doc.text)])
            continue

        has_verb = any(t.pos_ == "VERB" and not _plural_noun(t) for t in doc)
        is_action = partial(_is_action, has_verb=has_verb)
        for chunk in doc.noun_chunks:
            in_chunks.update(t.i for t in chunk)
            # a gerund inside a chunk ("punching person") is the action, not a modifier
            found += [(MOTIONS, t.text) for t in chunk if is_action(t)]
            words = [t for t in chunk if (t.pos_ in ("NOUN", "PROPN", "ADJ") or _plural_noun(t))
                     and t.text not in PERSON_WORDS and not is_action(t)]
            if words and words[-1].pos_ in ("NOUN", "PROPN"):
                found.append((None, " ".join(t.text for t in words)))
        for tok in doc:
            if tok.i in in_chunks:
                continue
            if is_action(tok):
                found.append((MOTIONS, tok.text))
            elif ((tok.pos_ in ("NOUN", "PROPN") or _plural_noun(tok))
                  and tok.text not in PERSON_WORDS):
                found.append((None, tok.text))  # a noun the parser left outside any chunk
        out.append(list(dict.fromkeys(found)))
    return out


def iter_ok(results: Iterable[Normalised]) -> Iterable[Normalised]:
    return (r for r in results if r.ok)
