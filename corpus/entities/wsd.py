"""Word-sense disambiguation of single-word entities on WordNet 3.0.

Three ways to pick a sense among the word's WordNet synsets of the right part of
speech, all given a context (the class name plus a description of the action):

- `lesk`: NLTK's simplified Lesk (`nltk.wsd.lesk`): the sense whose gloss shares
  most words with the context.
- `embedding`: cosine between the context and each sense's "lemma names: gloss",
  both embedded by all-MiniLM-L6-v2 (the paper's learned WSD model is not public;
  this sentence-embedding similarity stands in for it [ours]).
- `combined` (the default): the embedding cosine plus a WordNet sense-frequency
  prior (SemCor lemma counts), a small bonus for the sense whose kind (kinds.py) is
  the kind the source gave, and the domain prior (priors.py: person, body, equipment
  and places up; chess, muscle anatomy, law, food, abstractions down unless the
  context names them), and two kinds of WordNet evidence [ours]: a compound WordNet
  lists under the sense whose modifier the context names (fishhook under hook.n.05
  in "catching fish"; for a phrase, a sense that names the phrase's modifier), and a
  sense that is part of (or has as a part) what a word of the class name is
  (string.n.03, part of a stringed instrument, in "playing guitar"). Senses the
  domain prior penalises are not candidates of the
  combined method when another sense is not penalised; when every sense is
  penalised, "none fits" (no synset) is the answer. Weights in COMBINED_WEIGHTS,
  chosen on the tuning half of tests/data/wsd_eval.jsonl (docs/entities.md).

Every method returns the chosen synset, a confidence in [0, 1] and the runner-up.
Phrases are looked up by their WordNet spelling (lemmas.py): the caller passes the
compound WordNet lists (`baseball_glove`) or the phrase's head, and then the words
outside it, which rule senses out for the combined method (modifier_fits: a
"plastic egg" is no ovum, an "oven mitt" among objects no hand, nor baseball's mitt).
"""

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache

import numpy as np

from corpus.entities.kinds import (
    BODY_PARTS,
    ENTITY_KINDS,
    OBJECTS,
    ROLES,
    SCENES,
    hypernym_closure,
    wordnet_kind,
)
from corpus.entities.lemmas import wordnet_spelling
from corpus.entities.models import sentence_encoder, wordnet
from corpus.entities.priors import context_lexnames, context_topics, domain_prior

METHODS = ("lesk", "embedding", "combined")
DEFAULT_METHOD = "combined"

# combined score = cosine + prior * log P(sense | word) + kind * [sense kind == source kind]
#                  + domain * domain_prior(sense, context)
#                  + compound * [a compound WordNet lists under the sense is named by the
#                                context: "fish" + hook -> fishhook, under hook.n.05]
#                  + part * [the sense is part of, or has as a part, what a word of the
#                            class name is: string.n.03 of a stringed instrument]
#                  + derivation * [WordNet derives the sense's noun from the verb sense a
#                                  context word most likely has: thrower.n.02 from
#                                  throw.v.01 in "throw"]
COMBINED_WEIGHTS = {"prior": 0.10, "kind": 0.15, "domain": 0.10, "compound": 0.15,
                    "part": 0.25, "derivation": 0.15}
# Softmax temperature that turns cosine-scale scores into a confidence.
CONFIDENCE_TEMPERATURE = 0.05
ENCODE_BATCH = 128
SPORT = "sport.n.01"

_TOKEN = re.compile(r"[a-z]+")


@dataclass(frozen=True)
class SenseChoice:
    """One word's sense as one method chose it."""

    word: str
    pos: str
    method: str
    synset: str | None  # e.g. "bat.n.05"; None when WordNet has no sense of that POS
    confidence: float
    runner_up: str | None
    gloss: str | None

    def as_dict(self) -> dict:
        return {"synset": self.synset, "method": self.method,
                "confidence": round(self.confidence, 4), "runner_up": self.runner_up,
                "gloss": self.gloss}


@dataclass(frozen=True)
class SenseScores:
    """Every candidate sense of a word in one context, scored by every method."""

    word: str
    pos: str
    candidates: tuple[str, ...]
    lesk_overlap: np.ndarray  # (S,) shared words between context and gloss
    lesk_pick: str | None  # what nltk.wsd.lesk itself returns (its tie-breaking)
    cosine: np.ndarray  # (S,) MiniLM cosine(context, "lemmas: gloss")
    log_prior: np.ndarray  # (S,) log P(sense | word) from lemma counts, add-one smoothed
    kind_match: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (S,) 0/1
    domain: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (S,) -1/0/+1
    fits: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))  # (S,) phrase fit
    compound: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (S,) 0/1
    part: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (S,) 0/1
    derivation: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (S,) 0/1

    def scores(self, method: str, weights: dict | None = None) -> np.ndarray:
        """Each candidate's score by one method; `weights` replaces COMBINED_WEIGHTS
        (the bench's grid search)."""
        if method == "lesk":
            return self.lesk_overlap.astype(np.float64)
        if method == "embedding":
            return self.cosine.astype(np.float64)
        if method == "combined":
            w = COMBINED_WEIGHTS if weights is None else weights
            score = self.cosine + w["prior"] * self.log_prior
            if self.kind_match.size:
                score = score + w["kind"] * self.kind_match
            if self.compound.size:  # the three kinds of WordNet evidence come together
                score = (score + w["compound"] * self.compound + w["part"] * self.part
                         + w["derivation"] * self.derivation)
            if self.domain.size:
                score = score + w["domain"] * self.domain
                # penalised senses compete only when every sense is penalised
                score = np.where(self.domain < 0, -np.inf, score) if (
                    self.domain >= 0).any() else score
            if self.fits.size:  # a sense the phrase's modifiers rule out is no candidate
                score = np.where(self.fits, score, -np.inf)
            return score.astype(np.float64)
        raise ValueError(f"unknown WSD method {method!r}; choose from {METHODS}")

    def _none_fits(self) -> bool:
        """Every sense is penalised by the domain prior, or every sense the domain
        prior leaves is ruled out by the phrase's modifiers."""
        if self.domain.size and (self.domain < 0).all():
            return True
        if self.fits.size:
            left = self.domain >= 0 if self.domain.size and (self.domain >= 0).any() else True
            return not (self.fits & left).any()
        return False

    def choose(self, method: str = DEFAULT_METHOD, weights: dict | None = None) -> SenseChoice:
        if not self.candidates:
            return SenseChoice(self.word, self.pos, method, None, 0.0, None, None)
        if method == "combined" and self._none_fits():
            return SenseChoice(self.word, self.pos, method, None, 0.0, None, None)
        scores = self.scores(method, weights)
        order = [int(i) for i in np.argsort(-scores, kind="stable")]
        if method == "lesk":
            best = self.candidates.index(self.lesk_pick)
            order = [best] + [i for i in order if i != best]
            total = float(scores.sum())
            confidence = float(scores[best] / total) if total > 0 else 0.0
        else:
            probs = _softmax(np.where(np.isinf(scores), -1e9, scores) / CONFIDENCE_TEMPERATURE)
            best, confidence = order[0], float(probs[order[0]])
        runner_up = self.candidates[order[1]] if len(order) > 1 else None
        name = self.candidates[best]
        return SenseChoice(self.word, self.pos, method, name, confidence, runner_up,
                           gloss(name))


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


def context_tokens(context: str) -> list[str]:
    return _TOKEN.findall(context.lower())


@cache
def candidate_synsets(word: str, pos: str) -> tuple[str, ...]:
    """The word's WordNet senses of one part of speech, in WordNet's order, under the
    first spelling WordNet knows (`sit up` -> `sit-up`; NLTK applies morphy: "rings"
    finds rings.n.01 and the senses of "ring")."""
    spelled = wordnet_spelling(word, pos) or word.replace(" ", "_")
    return tuple(s.name() for s in wordnet().synsets(spelled, pos=pos))


@cache
def gloss(synset_name: str) -> str:
    return wordnet().synset(synset_name).definition()


@cache
def gloss_text(synset_name: str, word: str | None = None) -> str:
    """What the embedding method compares the context with: "lemma names: gloss",
    without the lemma names that contain the word being disambiguated [ours]: they
    would match the word in the context whatever it means there ("horse, gymnastic
    horse" drew a riding class to the gymnastic horse), closed compounds included
    ("joystick" drew the sticks of nunchucks to the pilot's control stick)."""
    synset = wordnet().synset(synset_name)
    parts = set((word or "").lower().replace("-", "_").split("_")) - {""}
    names = [n.replace("_", " ") for n in synset.lemma_names()
             if not any(p in n.lower() for p in parts)]
    return f"{', '.join(names)}: {synset.definition()}" if names else synset.definition()


@cache
def log_prior(word: str, pos: str) -> tuple[float, ...]:
    """log P(sense | word) from WordNet's tagged-corpus lemma counts, add-one smoothed,
    so unseen senses keep a little mass and a word with no counts gets a flat prior."""
    wn = wordnet()
    spelled = (wordnet_spelling(word, pos) or word.replace(" ", "_")).lower()
    forms = {spelled, *(wn._morphy(spelled, pos) or [])}
    counts = []
    for name in candidate_synsets(word, pos):
        lemmas = wn.synset(name).lemmas()
        counts.append(sum(lem.count() for lem in lemmas if lem.name().lower() in forms))
    total = sum(counts) + len(counts)
    return tuple(math.log((c + 1) / total) for c in counts)


class _Embeddings:
    """Unit vectors of glosses and contexts: computed in batches through the project's
    embedding cache (so a rerun reads them from disk) and kept per process."""

    def __init__(self) -> None:
        self.vectors: dict[str, np.ndarray] = {}
        self.cache = None

    def get(self, texts: Sequence[str]) -> list[np.ndarray]:
        todo = [t for t in dict.fromkeys(texts) if t not in self.vectors]
        if todo:
            from corpus.encoders import EmbeddingCache

            if self.cache is None:
                self.cache = EmbeddingCache()
            encoded = self.cache.embed(sentence_encoder(), todo, batch_size=ENCODE_BATCH)
            for text in todo:
                v = encoded[text].pooled.astype(np.float32)
                self.vectors[text] = v / max(float(np.linalg.norm(v)), 1e-12)
        return [self.vectors[t] for t in texts]


_EMBEDDINGS = _Embeddings()


def lesk_overlaps(context: Sequence[str], candidates: Sequence[str]) -> np.ndarray:
    """NLTK's Lesk score for each candidate: |context words ∩ gloss words|."""
    wn = wordnet()
    ctx = set(context)
    return np.array([len(ctx.intersection(wn.synset(c).definition().split()))
                     for c in candidates], dtype=np.int64)


def context_parts(context: str) -> list[str]:
    """A context "label: sentence. sentence." as the texts embedded one by one: the
    label and each sentence, as TPP embedded them. [ours] Its vector is the mean of
    theirs, so a class's sentences are embedded once for all its entities — in a build
    they are already in the embedding cache from TPP (embedding every (entity, class)
    context whole cost most of the entity stage)."""
    label, _, rest = context.partition(": ")
    if not rest.rstrip().endswith(".") and len(rest.split()) <= 4:
        return [label.strip() or context]  # "label: entity": no sentence mentions it
    return [p for p in [label.strip(), *(t.strip().rstrip(".") for t in rest.split(". "))] if p]


def _context_vector(context: str) -> np.ndarray:
    v = np.mean(_EMBEDDINGS.get(context_parts(context) or [context]), axis=0)
    return v / max(float(np.linalg.norm(v)), 1e-12)


@cache
def hyponym_modifiers(synset_name: str, word: str) -> frozenset[str]:
    """The modifiers of the compounds of the word WordNet lists as kinds of a sense
    (its direct hyponyms) [ours]: fishhook and boat_hook under hook.n.05 give "fish" and
    "boat", dancing_partner under collaborator.n.03 gives "dancing", boxing_ring under
    ring.n.07 "boxing". A context that names one of them ("catching fish") means that
    sense: WordNet itself says a hook of fish is this kind of hook."""
    names = (n for h in wordnet().synset(synset_name).hyponyms() for n in h.lemma_names())
    return _compound_modifiers(names, word)


def _compound_modifiers(names: Iterable[str], word: str) -> frozenset[str]:
    """The modifiers of the compounds of a word among lemma names, open or closed:
    "fishhook" and "boat_hook" give "fish" and "boat" for "hook"."""
    word = word.lower().replace("-", "_")
    forms = {word, word.replace("_", "")}
    out = set()
    for name in (n.lower() for n in names):
        for form in forms:
            modifier = name[:-len(form)].rstrip("_-") if name.endswith(form) else ""
            if len(modifier) >= 3 and modifier.isalpha():
                out.add(modifier)
    return frozenset(out - forms)


@cache
def _particular_sport(word: str) -> bool:
    """A word whose first noun sense is a particular sport (baseball, golf), not
    sport itself."""
    senses = wordnet().synsets(word, pos="n")
    return bool(senses) and senses[0].name() != SPORT and SPORT in hypernym_closure(
        senses[0].name())


@cache
def sport_modifiers(synset_name: str, word: str) -> frozenset[str]:
    """The sports a sense is named for: modifiers of its own compound lemma names that
    name a particular sport [ours]. baseball_glove.n.01 is also spelled baseball_mitt,
    so as a mitt it is baseball's; golf_club.n.02 is golf's club."""
    names = wordnet().synset(synset_name).lemma_names()
    return frozenset(m for m in _compound_modifiers(names, word) if _particular_sport(m))


@cache
def _word_forms(token: str) -> frozenset[str]:
    """A context token and its WordNet base forms as a noun and a verb ("fishing" ->
    fish, "sides" -> side)."""
    wn = wordnet()
    return frozenset({token, *(wn._morphy(token, "n") or []), *(wn._morphy(token, "v") or [])})


@cache
def _parts_and_wholes(synset_name: str) -> frozenset[str]:
    """The senses WordNet says a sense is part of, or has as parts (part, member and
    substance holonyms and meronyms): string.n.03 is part of a stringed instrument."""
    s = wordnet().synset(synset_name)
    related = (s.part_holonyms() + s.member_holonyms() + s.substance_holonyms()
               + s.part_meronyms() + s.member_meronyms() + s.substance_meronyms())
    return frozenset(r.name() for r in related)


@cache
def _first_noun_kinds(token: str) -> frozenset[str]:
    """A context word's first noun sense (under any of its base forms) and its
    hypernyms: "guitar" is a stringed instrument."""
    wn = wordnet()
    out: set[str] = set()
    for form in _word_forms(token):
        senses = wn.synsets(form, pos="n")
        if senses and senses[0].name().split(".")[0] == form:
            out |= hypernym_closure(senses[0].name())
    return frozenset(out)


def _usable(words: frozenset[str], word: str) -> frozenset[str]:
    """Context words that can be evidence: not the word itself in any inflection
    ("ducks" for duck), not shorter than three letters."""
    own = set(word.lower().split("_"))
    return frozenset(t for t in words if len(t) > 2 and own.isdisjoint(_word_forms(t)))


@cache
def _named_words(synset_name: str) -> frozenset[str]:
    """The words a sense is spelled out in: its definition, lemma names and topic
    domains ("fencing" for piste.n.01)."""
    s = wordnet().synset(synset_name)
    names = [*s.lemma_names(), *(n for d in s.topic_domains() for n in d.lemma_names())]
    return frozenset({*_TOKEN.findall(s.definition().lower())}
                     | {w for n in names for w in n.lower().split("_")})


def _names_modifier(synset_name: str, modifier: str) -> bool:
    """The sense names a phrase's modifier: one of its base forms is a word of the
    sense (_named_words), or begins one ("hair" in "hairdressers", 4 letters or more)."""
    words = _named_words(synset_name)
    if not _word_forms(modifier).isdisjoint(words):
        return True
    return len(modifier) >= 4 and any(w.startswith(modifier) for w in words)


def compound_evidence(candidates: Sequence[str], word: str, tokens: frozenset[str],
                      modifiers: Sequence[str] = ()) -> np.ndarray:
    """1 for a sense one of whose compounds' modifiers (hyponym_modifiers) a context
    word names, or, for a phrase of which WordNet lists only the head, a sense that
    names one of the phrase's modifiers (_names_modifier: a "bank teller" is
    teller.n.03, "an employee of a bank", a "cliff face" face.n.13, "a vertical surface
    of a building or cliff"); else 0."""
    forms = frozenset().union(*(_word_forms(t) for t in _usable(tokens, word)))
    return np.array([float(not hyponym_modifiers(c, word).isdisjoint(forms)
                           or any(_names_modifier(c, m) for m in modifiers))
                     for c in candidates])


@cache
def _derived_from(synset_name: str, word: str) -> frozenset[str]:
    """The verb senses WordNet derives the word's lemma in a sense from: thrower.n.02
    from throw.v.01, throwster.n.01 (a silk throwster) from none."""
    return frozenset(r.synset().name() for lemma in wordnet().synset(synset_name).lemmas()
                     if lemma.name().lower() == word.lower()
                     for r in lemma.derivationally_related_forms() if r.synset().pos() == "v")


@cache
def _first_verb_senses(token: str, topics: frozenset[str]) -> frozenset[str]:
    """The verb sense a context word most likely has: for each base form WordNet spells
    as a verb, its first sense in a topic the context names ("playing" a harmonica:
    play.v.03, in `music`), else its first sense ("throws" -> throw.v.01)."""
    wn = wordnet()
    out = set()
    for form in _word_forms(token):
        senses = [v for v in wn.synsets(form, pos="v") if form in v.lemma_names()]
        on_topic = [v for v in senses if not topics.isdisjoint(
            d.name() for d in v.topic_domains())]
        if senses:
            out.add((on_topic or senses)[0].name())
    return frozenset(out)


def derivation_evidence(candidates: Sequence[str], word: str, tokens: frozenset[str],
                        kind: str | None = None,
                        topics: frozenset[str] = frozenset()) -> np.ndarray:
    """1 for a sense whose noun WordNet derives from the verb sense a context word most
    likely has (_first_verb_senses) [ours]: in "throw", a thrower is "someone who
    projects something", not a silk throwster; in "playing harmonica" a player is a
    musician. Only that one verb sense counts, so a rare one ("throw" pottery) never
    speaks for its noun; and only senses of the kind the source gave, so a "remote
    controller" gets nothing from "control" for the person who controls. Else 0."""
    verbs = frozenset().union(*(_first_verb_senses(t, topics) for t in _usable(tokens, word)))
    return np.array([float(kind in ENTITY_KINDS and wordnet_kind(c) == kind
                           and not _derived_from(c, word).isdisjoint(verbs))
                     for c in candidates])


def part_evidence(candidates: Sequence[str], word: str, label: frozenset[str]) -> np.ndarray:
    """1 for a sense that is part of, or has as a part, what a word of the class name
    is (_parts_and_wholes, _first_noun_kinds) [ours]: the strings in "playing guitar"
    are string.n.03, part of a stringed instrument, not the bowed instruments; else
    0. Read from the class name only: the class's sentences name the car a pedal is
    part of and the forks a table holds, whatever the word means there."""
    kinds = frozenset().union(*(_first_noun_kinds(t) for t in _usable(label, word)))
    return np.array([float(not _parts_and_wholes(c).isdisjoint(kinds)) for c in candidates])


@cache
def _material(word: str) -> bool:
    """A modifier whose first noun sense is a substance: "plastic", "clay", "rubber"."""
    senses = wordnet().synsets(word, pos="n")
    return bool(senses) and senses[0].lexname() == "noun.substance"


@cache
def _made_thing(synset_name: str) -> bool:
    """A sense that can be made of a material: an artifact or a substance."""
    return (wordnet().synset(synset_name).lexname() == "noun.substance"
            or "artifact.n.01" in hypernym_closure(synset_name))


# What a phrase of each source kind can be: a thing (an object or a place: many things
# are both in WordNet), a body part or a person.
KIND_FAMILY = {OBJECTS: "thing", SCENES: "thing", BODY_PARTS: "body", ROLES: "person"}


def modifier_fits(candidates: Sequence[str], modifiers: Sequence[str],
                  kind: str | None = None, word: str = "",
                  tokens: frozenset[str] = frozenset()) -> np.ndarray:
    """Which senses of a phrase's head the phrase can mean when WordNet lists only the
    head [ours]: a thing made of the material a modifier names is an artifact or a
    substance, so a "plastic egg" is not an ovum and a "rubber duck" not a bird (a
    person or a body part is made of no material: an "ice dancer" is a dancer); a
    head sense of another family of kinds than the source gave (KIND_FAMILY) is not
    the thing — an "oven mitt" among objects is not a hand, a "mechanical arm" not a
    limb, a "toe stop" not a toe; and a head sense named for a sport (sport_modifiers
    of the head `word`) that neither the phrase nor its context (`tokens`) names, and
    whose words do not name the modifier, is that sport's thing — an oven mitt is no
    baseball mitt, a rubber glove no baseball glove, a fire club no golf club. No
    sense fitting is "none fits"."""
    fits = np.ones(len(candidates), bool)
    if word:
        named = frozenset().union(*(_word_forms(t) for t in (*modifiers, *_usable(tokens, word))))

        def another_sports(sense: str) -> bool:
            sports = sport_modifiers(sense, word)
            return bool(sports) and sports.isdisjoint(named) and not any(
                _names_modifier(sense, m) for m in modifiers)

        fits &= np.array([not another_sports(c) for c in candidates], bool)
    family = KIND_FAMILY.get(kind)
    # a person or a body part is not made of what a modifier names: an "ice dancer"
    # dances on ice
    if family in (None, "thing") and any(_material(m) for m in modifiers):
        fits &= np.array([_made_thing(c) for c in candidates], bool)
    if family is not None:
        fits &= np.array([KIND_FAMILY.get(wordnet_kind(c), family) == family
                          for c in candidates], bool)
    return fits


def score_many(items: Sequence[tuple], all_senses: bool = False) -> list[SenseScores]:
    """Score every candidate sense of many (word, context, pos, source kind) at once:
    glosses and contexts are embedded in batches. The glosses of senses the domain
    prior penalises are embedded only with `all_senses` (for the Lesk and embedding
    baselines) or when every sense of the word is penalised: the combined method never
    picks them otherwise, and skipping them halves the embedding work.

    An item is (word, context, pos, source kind) or, for a phrase of which WordNet
    lists only a part, (lemma, context, pos, source kind, modifiers): the phrase's
    words outside the part, which rule senses out (modifier_fits)."""
    from nltk.wsd import lesk

    wn = wordnet()
    items = [(*item[:4], tuple(item[4]) if len(item) > 4 else ()) for item in items]
    cands = [candidate_synsets(w, p) for w, _, p, _, _ in items]
    domains, item_topics = [], []
    for (word, context, _, kind, _), cs in zip(items, cands, strict=True):
        token_set = frozenset(context_tokens(context))
        # the word itself does not say which of its own senses' topics is meant
        own = set(context_tokens(word.replace("_", " ")))
        lexnames, topics = context_lexnames(token_set), context_topics(token_set - own)
        domains.append(np.array([domain_prior(c, token_set, lexnames, kind, topics)
                                 for c in cs]))
        item_topics.append(topics)
    embedded = [np.ones(len(cs), bool) if all_senses or not (d >= 0).any() else d >= 0
                for cs, d in zip(cands, domains, strict=True)]
    _EMBEDDINGS.get([gloss_text(c, w) for (w, *_), cs, e in zip(items, cands, embedded,
                                                                strict=True)
                     for c, keep in zip(cs, e, strict=True) if keep]
                    + [p for (_, ctx, *_), cs in zip(items, cands, strict=True) if cs
                       for p in context_parts(ctx)])
    out = []
    for (word, context, pos, kind, modifiers), cs, domain, keep, topics in zip(
            items, cands, domains, embedded, item_topics, strict=True):
        if not cs:
            empty = np.zeros(0)
            out.append(SenseScores(word, pos, (), empty, None, empty, empty, empty, empty))
            continue
        tokens = context_tokens(context)
        pick = lesk(tokens, cs[0].split(".")[0], pos, synsets=[wn.synset(c) for c in cs])
        ctx_vec = _context_vector(context)
        cosine = np.full(len(cs), -1.0)  # a sense not embedded is never the best match
        kept = [c for c, k in zip(cs, keep, strict=True) if k]
        glosses = np.stack(_EMBEDDINGS.get([gloss_text(c, word) for c in kept]))
        cosine[keep] = glosses @ ctx_vec
        fits = (modifier_fits(cs, modifiers, kind, word, frozenset(tokens)) if modifiers
                else np.zeros(0, bool))
        kind_match = np.array([float(kind is not None and wordnet_kind(c) == kind)
                               for c in cs])
        label = frozenset(context_tokens(context.partition(": ")[0]))
        # evidence only for senses the combined method can pick (the domain prior's
        # penalised ones never win): reading their hyponyms costs WordNet look-ups
        open_ = [c for c, d in zip(cs, domain, strict=True) if d >= 0]
        compound, part, derivation = np.zeros(len(cs)), np.zeros(len(cs)), np.zeros(len(cs))
        if open_:
            at = [i for i, d in enumerate(domain) if d >= 0]
            compound[at] = compound_evidence(open_, word, frozenset(tokens), modifiers)
            part[at] = part_evidence(open_, word, label)
            derivation[at] = derivation_evidence(open_, word, frozenset(tokens), kind, topics)
        out.append(SenseScores(word, pos, cs, lesk_overlaps(tokens, cs),
                               pick.name() if pick is not None else cs[0],
                               cosine, np.array(log_prior(word, pos)), kind_match, domain,
                               fits, compound, part, derivation))
    return out


def disambiguate(word: str, context: str, pos: str = "n", method: str = DEFAULT_METHOD,
                 kind: str | None = None) -> SenseChoice:
    """The sense of `word` in `context` by one method; `kind` is the source's kind
    (objects, body_parts, ...), used by the combined method only."""
    return score_many([(word, context, pos, kind)])[0].choose(method)


def disambiguate_many(items: Sequence[tuple[str, str, str, str | None]],
                      methods: Sequence[str] = METHODS) -> list[dict[str, SenseChoice]]:
    """Every method's choice for each (word, context, pos, kind)."""
    return [{m: s.choose(m) for m in methods} for s in score_many(items)]
