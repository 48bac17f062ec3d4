"""The entity corpus of Align before Adapt: objects, body parts, scenes and roles,
each with a WordNet sense chosen in its classes' own contexts and a description.

From a vocabulary (semantic_units.build_vocabulary over the entity kinds, the class
names included) to entity rows and class-entity rows:

- WordNet lookup (lemmas.py): a single word under the spelling WordNet uses (`sit-up`),
  a phrase by the longest WordNet compound holding its head (`baseball glove` ->
  `baseball_glove`; `yoga mat` -> `mat`, the head). A phrase whose head WordNet lacks
  (`discus thrower`: only the modifier `discus` is listed) gets no sense: none fits.
- Senses per class: every (entity, class) pair is disambiguated in that class's
  context (class name + the sentences of its description that mention the entity);
  the sense, kind and description in a class are that class's own choice
  (class_entities). "None fits" is an allowed answer (wsd.py). The entity-level
  sense is a summary [ours]: the sense most of its classes chose (ties: the higher
  mean confidence), with every class's sense listed in `senses`; it overrules no class.
- Descriptions, every entity offline (`description_source`): the sense's gloss
  (`wordnet_gloss`) for a word; the compound's gloss (`wordnet_compound`) for a phrase
  WordNet lists; for other phrases a composition of the head's gloss and the modifier
  (`composed`: "a mat for yoga: a thick flat pad ..."); with no fitting sense, the
  class's own sentence that mentions it (`curated`), else a composition from the class
  name (`composed`). An LLM endpoint may later rewrite the composed and curated ones
  (knowledge.describe_entities); it is never needed for a description to exist.
- kind: WordNet's (kinds.py) when the sense maps to one, else the source's kind
  (`kind_source` says which); an entity with no kind from anywhere is an object.
- generic body parts are always in the corpus ([secondary] reading of ALT).
"""

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from corpus.entities.kinds import (
    BODY_PARTS,
    ENTITY_KINDS,
    KIND_POS,
    OBJECTS,
    ROLES,
    SCENES,
    phrase_kind,
    resolve_kind,
    wordnet_kind,
)
from corpus.entities.lemmas import CompoundMatch, compound_match, wordnet_spelling
from corpus.entities.models import wordnet
from corpus.entities.semantic_units import (
    CLASS_NAME_SOURCE,
    UNKNOWN_KIND,
    ClassId,
    Vocabulary,
    unit_id,
)
from corpus.entities.wsd import DEFAULT_METHOD, METHODS, gloss, score_many

ENTITY_SOURCE_KINDS = (*ENTITY_KINDS, UNKNOWN_KIND)
GENERIC_SOURCE = "generic"
GENERIC_BODY_PARTS = ("head", "face", "eye", "mouth", "neck", "shoulder", "arm", "elbow",
                      "hand", "finger", "torso", "hip", "leg", "knee", "foot")
GENERIC_CONTEXT = "the human body: the {word} of a person moving"
_WORD = re.compile(r"[a-z]+")


@dataclass
class Entity:
    entity_id: str
    text: str
    kind: str
    kind_source: str  # "wordnet", or the source whose kind was kept, or "default"
    source_kind: str | None  # the kind the sources gave most often
    n_words: int
    wordnet_lemma: str | None  # what WordNet was asked: the word or the phrase's compound
    synset: str | None  # the summary: the sense most of its classes chose
    description: str | None
    description_source: str  # wordnet_gloss, wordnet_compound, composed, curated, llm:<ep>
    needs_description: bool  # composed or curated: an LLM endpoint may improve it
    wsd_method: str | None
    wsd_confidence: float | None
    runner_up: str | None
    lesk_synset: str | None
    embedding_synset: str | None
    sense_agreement: float | None  # share of its classes whose own choice is `synset`
    senses: list[str]  # every sense its classes chose, most frequent first
    n_classes: int
    sources: list[str]


@dataclass
class ClassEntity:
    class_id: ClassId
    entity_id: str
    kind: str
    score: float
    sources: list[str]
    synset: str | None  # the sense this class's own context chose (None: none fits)
    wsd_confidence: float | None
    description: str  # the description in this class (its own sense, or its sentence)
    description_source: str


@dataclass
class EntityCorpus:
    entities: list[Entity]
    class_entities: list[ClassEntity]
    method: str = DEFAULT_METHOD
    stats: dict = field(default_factory=dict)

    def entity_rows(self) -> list[dict]:
        return [asdict(e) for e in self.entities]

    def class_entity_rows(self) -> list[dict]:
        return [asdict(c) for c in self.class_entities]


def mentioning_sentences(texts: Sequence[str], entity: str) -> list[str]:
    """The sentences that mention an entity: those with the whole phrase first, then
    those with its head word (the last word) by a shared 4-letter stem, so "bats" and
    "batting" count."""
    lowered = entity.lower()
    stem = lowered.split()[-1][:4]
    whole = [t for t in texts if lowered in t.lower()]
    by_head = [t for t in texts if t not in whole
               and any(w.startswith(stem) for w in _WORD.findall(t.lower()))]
    return whole + by_head


def wsd_context(label: str, texts: Sequence[str], word: str) -> str:
    """The context a class gives a word: its name, plus the sentences of its
    description that mention the word (mentioning_sentences); just "name: word" when
    none does."""
    mentioning = mentioning_sentences(texts, word)
    if mentioning:
        return f"{label}: " + " ".join(t.rstrip(".") + "." for t in mentioning)
    return f"{label}: {word}"


def wordnet_lookup(text: str, head: str | None, n_words: int) -> CompoundMatch | None:
    """What WordNet is asked about an entity: the word under its WordNet spelling, or
    the phrase's longest compound holding its head."""
    if n_words == 1:
        spelled = wordnet_spelling(text)
        return CompoundMatch(spelled, 0, 1, 1) if spelled else None
    return compound_match(text, head)


def phrase_modifiers(match: CompoundMatch, text: str) -> tuple[str, ...]:
    """The words of a phrase outside its WordNet match; none for a word or a compound
    WordNet lists whole."""
    return () if match.whole else tuple(match.modifiers(text))


def _modifier_clause(modifiers: list[str], before: bool) -> str:
    """How the words outside the WordNet match relate to it [ours]: a gerund says what
    the thing is for ("a track for running"), a place where it is ("a table in a
    kitchen"), a material what it is made of, another noun what it is for ("a mat for
    yoga"), an adjective what it is like ("a ball that is red"); words after the head
    are kept as they are ("a person doing makeup")."""
    text = " ".join(modifiers)
    if not before:
        return text
    last = modifiers[-1]
    wn = wordnet()
    nouns = wn.synsets(last, pos="n")
    if last.endswith("ing") and wn.synsets(last, pos="v"):
        return f"for {text}"
    if nouns and wordnet_kind(nouns[0].name()) == SCENES:
        return f"in a {text}"
    if nouns and nouns[0].lexname() == "noun.substance":
        return f"made of {text}"
    if nouns:
        return f"for {text}"
    return f"that is {text}"


def describe(text: str, match: CompoundMatch | None, synset: str | None, label: str,
             texts: Sequence[str], kind: str) -> tuple[str, str]:
    """(description, description_source) of an entity in one class's context."""
    if synset is not None and match is not None:
        if match.whole:
            return gloss(synset), "wordnet_gloss" if match.n_words == 1 else "wordnet_compound"
        head = match.lemma.replace("_", " ")
        before = match.start > 0
        clause = _modifier_clause(match.modifiers(text), before)
        return f"a {head} {clause}: {gloss(synset)}", "composed"
    mentioning = mentioning_sentences(texts, text)
    if mentioning:
        return mentioning[0].rstrip(".") + ".", "curated"
    return f"{KIND_NOUNS.get(kind, 'a thing')} in the action '{label}'", "composed"


KIND_NOUNS = {OBJECTS: "an object", BODY_PARTS: "a body part", SCENES: "a place",
              ROLES: "a person"}


def build_entity_corpus(vocabulary: Vocabulary,
                        contexts: Mapping[ClassId, tuple[str, Sequence[str]]],
                        method: str = DEFAULT_METHOD,
                        generic_body_parts: Sequence[str] = GENERIC_BODY_PARTS) -> EntityCorpus:
    """Entities and class-entity links from a vocabulary of entity kinds.

    `contexts`: class id -> (class label, description sentences), e.g. every sub-text
    of the class. Units whose kinds are all outside ENTITY_KINDS (motions) are not
    entities.
    """
    if method not in METHODS:
        raise ValueError(f"unknown WSD method {method!r}; choose from {METHODS}")
    units = [u for u in vocabulary.units if set(u.kinds) & set(ENTITY_SOURCE_KINDS)]
    known_ids = {u.unit_id for u in units}
    links = [c for c in vocabulary.class_units if c.unit_id in known_ids]
    by_unit: dict[str, list] = {}
    for link in links:
        by_unit.setdefault(link.unit_id, []).append(link)

    rows: list[dict] = []
    for u in units:
        kinds = [k for k in u.kinds if k in ENTITY_KINDS]
        rows.append({"text": u.text, "head": u.head, "n_words": u.n_words,
                     "source_kind": kinds[0] if kinds else None, "sources": u.sources,
                     "links": by_unit.get(u.unit_id, []), "n_classes": u.n_classes})
    present = {r["text"] for r in rows}
    for word in generic_body_parts:
        if word not in present:
            rows.append({"text": word, "head": word, "n_words": 1, "source_kind": BODY_PARTS,
                         "sources": [GENERIC_SOURCE], "links": [], "n_classes": 0})
        else:
            row = next(r for r in rows if r["text"] == word)
            row["sources"] = sorted({*row["sources"], GENERIC_SOURCE})

    # one WSD item per (entity, class) whose lookup WordNet knows; generic-only words
    # get one item in a neutral context
    items, owners = [], []
    for r in rows:
        r["match"] = wordnet_lookup(r["text"], r["head"], r["n_words"])
        if r["match"] is None or not r["match"].holds_head:
            continue  # WordNet lacks the word, or the thing a phrase names: none fits
        pos = KIND_POS.get(r["source_kind"] or OBJECTS, "n")
        word = r["match"].lemma
        if r["links"]:
            for link in r["links"]:
                label, texts = contexts.get(link.class_id, (str(link.class_id), ()))
                items.append((word, wsd_context(label, texts, r["text"]), pos,
                              r["source_kind"], phrase_modifiers(r["match"], r["text"])))
                owners.append((r["text"], link.class_id))
        else:
            items.append((word, GENERIC_CONTEXT.format(word=r["text"]), pos,
                          r["source_kind"], phrase_modifiers(r["match"], r["text"])))
            owners.append((r["text"], None))
    scored = score_many(items)
    per_entity: dict[str, dict] = {}
    for (text, class_id), s in zip(owners, scored, strict=True):
        per_entity.setdefault(text, {})[class_id] = s

    entities, class_entities = [], []
    for r in sorted(rows, key=lambda r: r["text"]):
        eid = unit_id(r["text"])
        own = per_entity.get(r["text"], {})
        source = _kind_source(r["sources"])
        per_class = []  # (class_id, choice, kind, kind_source, description, description_source)
        for class_id in [link.class_id for link in r["links"]] or [None]:
            s = own.get(class_id)
            choice = s.choose(method) if s is not None else None
            synset = choice.synset if choice else None
            kind, kind_source = _kind(r, synset, source)
            label, texts = contexts.get(class_id, (str(class_id), ())) if class_id is not None \
                else ("the human body", ())
            description, description_source = describe(r["text"], r["match"], synset, label,
                                                       texts, kind)
            per_class.append((class_id, choice, s, kind, kind_source, description,
                              description_source))
        summary = _summary(per_class, method)
        _, choice, _, kind, kind_source, description, description_source = summary["row"]
        synset = summary["synset"]
        entities.append(Entity(
            eid, r["text"], kind, kind_source, r["source_kind"], r["n_words"],
            r["match"].lemma if r["match"] else None, synset, description,
            description_source, description_source in IMPROVABLE_SOURCES,
            method if synset else None, summary["confidence"], summary["runner_up"],
            summary["lesk"], summary["embedding"], summary["agreement"], summary["senses"],
            r["n_classes"], r["sources"]))
        links_by_class = {link.class_id: link for link in r["links"]}
        for class_id, c_choice, _, c_kind, _, c_desc, c_src in per_class:
            if class_id is None:
                continue
            link = links_by_class[class_id]
            class_entities.append(ClassEntity(
                link.class_id, eid, c_kind, link.score, link.sources,
                c_choice.synset if c_choice else None,
                round(c_choice.confidence, 4) if c_choice and c_choice.synset else None,
                c_desc, c_src))
    class_entities.sort(key=lambda c: (str(c.class_id), c.entity_id))
    stats = {"entities": len(entities), "single_word": sum(e.n_words == 1 for e in entities),
             "with_synset": sum(e.synset is not None for e in entities),
             "described": sum(e.description is not None for e in entities),
             "description_source": dict(Counter(e.description_source for e in entities)),
             "several_senses": sum(len(e.senses) > 1 for e in entities),
             "wsd_items": len(items),
             "kind_source": dict(Counter(e.kind_source for e in entities)),
             "kinds": dict(Counter(e.kind for e in entities))}
    return EntityCorpus(entities, class_entities, method, stats)


# Descriptions an LLM endpoint may rewrite (never needed for one to exist).
IMPROVABLE_SOURCES = ("composed", "curated")


def _kind(row: dict, synset: str | None, source: str) -> tuple[str, str]:
    if synset is not None:
        kind, kind_source = resolve_kind(synset, row["source_kind"], source)
    elif row["n_words"] > 1 and phrase_kind(row["text"]) is not None:
        kind, kind_source = phrase_kind(row["text"]), "wordnet"
    else:
        kind, kind_source = row["source_kind"], source
    if kind is None or kind not in ENTITY_KINDS:
        kind, kind_source = OBJECTS, "default"
    return kind, kind_source


def _kind_source(sources: Sequence[str]) -> str:
    named = [s for s in sources if s not in (CLASS_NAME_SOURCE, GENERIC_SOURCE)]
    return named[0] if named else (sources[0] if sources else "default")


def _summary(per_class: list[tuple], method: str) -> dict:
    """The entity-level sense: the one most of its classes chose (None, "none fits",
    counts as a choice), ties broken by the higher mean confidence; the row of the
    first class that chose it gives the entity's kind and description. Lesk's and the
    embedding's choices are summarised the same way."""
    def most_frequent(picks: list[str | None], weights: list[float]) -> str | None:
        count = Counter(picks)
        conf: dict = {}
        for p, w in zip(picks, weights, strict=True):
            conf.setdefault(p, []).append(w)
        return max(count, key=lambda p: (count[p], float(np.mean(conf[p])), str(p)))

    choices = [c for _, c, *_ in per_class]
    picks = [c.synset if c else None for c in choices]
    confs = [c.confidence if c else 0.0 for c in choices]
    synset = most_frequent(picks, confs)
    row = next(p for p, pick in zip(per_class, picks, strict=True) if pick == synset)
    scores = [s for _, _, s, *_ in per_class if s is not None and s.candidates]
    chosen = [c for c, p in zip(confs, picks, strict=True) if p == synset]
    runner = [c.runner_up for c, p in zip(choices, picks, strict=True)
              if c is not None and p == synset and c.runner_up]
    senses = [p for p, _ in Counter(p for p in picks if p).most_common()]

    def summarise(m: str) -> str | None:
        if not scores:
            return None
        ms = [s.choose(m).synset for s in scores]
        return most_frequent(ms, [1.0] * len(ms))

    return {"synset": synset, "row": row,
            "confidence": round(float(np.mean(chosen)), 4) if synset else None,
            "runner_up": Counter(runner).most_common(1)[0][0] if runner else None,
            "lesk": summarise("lesk"), "embedding": summarise("embedding"),
            "agreement": round(picks.count(synset) / len(picks), 4) if synset else None,
            "senses": senses}
