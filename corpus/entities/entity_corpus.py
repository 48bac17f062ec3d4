"""The entity corpus of Align before Adapt: objects, body parts, scenes and roles,
each single word with a disambiguated WordNet sense whose gloss is its description.

From a vocabulary (semantic_units.build_vocabulary over the entity kinds, the class
names included) to entity rows and class-entity rows:

- single-word entities: every (entity, class) pair is disambiguated in that class's
  context (class name + the sentences of its description that mention the word);
  the entity keeps ONE sense [ours]: the argmax of its per-class confidences
  averaged over its classes (one sense per action set; splitting an entity per class
  would turn WSD noise into duplicate entities). `sense_agreement` says which share
  of its classes chose that sense on their own. Description = the sense's gloss.
- multi-word phrases keep no sense; their description is written later by the LLM
  (`description: None`, `needs_description: True`).
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
    phrase_kind,
    resolve_kind,
)
from corpus.entities.semantic_units import (
    CLASS_NAME_SOURCE,
    UNKNOWN_KIND,
    ClassId,
    Vocabulary,
    unit_id,
)
from corpus.entities.wsd import (
    CONFIDENCE_TEMPERATURE,
    DEFAULT_METHOD,
    METHODS,
    SenseScores,
    gloss,
    score_many,
)

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
    synset: str | None
    description: str | None
    description_source: str | None  # "wordnet_gloss"; None until the LLM writes one
    needs_description: bool
    wsd_method: str | None
    wsd_confidence: float | None
    runner_up: str | None
    lesk_synset: str | None
    embedding_synset: str | None
    sense_agreement: float | None  # share of its classes whose own choice is `synset`
    n_classes: int
    sources: list[str]


@dataclass
class ClassEntity:
    class_id: ClassId
    entity_id: str
    kind: str
    score: float
    sources: list[str]
    synset: str | None  # the sense this class's context alone would choose


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


def _probabilities(scores: SenseScores, method: str) -> np.ndarray:
    s = scores.scores(method)
    if method == "lesk":
        total = s.sum()
        return s / total if total > 0 else np.full(len(s), 1.0 / len(s))
    e = np.exp((s - s.max()) / CONFIDENCE_TEMPERATURE)
    return e / e.sum()


def build_entity_corpus(vocabulary: Vocabulary,
                        contexts: Mapping[ClassId, tuple[str, Sequence[str]]],
                        method: str = DEFAULT_METHOD,
                        generic_body_parts: Sequence[str] = GENERIC_BODY_PARTS) -> EntityCorpus:
    """Entities and class-entity links from a vocabulary of entity kinds.

    `contexts`: class id -> (class label, description sentences), e.g. the class's
    selected sub-texts. Units whose kinds are all outside ENTITY_KINDS (motions) are
    not entities.
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
        rows.append({"text": u.text, "n_words": u.n_words,
                     "source_kind": kinds[0] if kinds else None, "sources": u.sources,
                     "links": by_unit.get(u.unit_id, []), "n_classes": u.n_classes})
    present = {r["text"] for r in rows}
    for word in generic_body_parts:
        if word not in present:
            rows.append({"text": word, "n_words": 1, "source_kind": BODY_PARTS,
                         "sources": [GENERIC_SOURCE], "links": [], "n_classes": 0})
        else:
            row = next(r for r in rows if r["text"] == word)
            row["sources"] = sorted({*row["sources"], GENERIC_SOURCE})

    # one WSD item per (single-word entity, class); generic-only words get one item
    items, owners = [], []
    for r in rows:
        if r["n_words"] != 1:
            continue
        pos = KIND_POS.get(r["source_kind"] or OBJECTS, "n")
        if r["links"]:
            for link in r["links"]:
                label, texts = contexts.get(link.class_id, (str(link.class_id), ()))
                items.append((r["text"], wsd_context(label, texts, r["text"]), pos,
                              r["source_kind"]))
                owners.append((r["text"], link.class_id))
        else:
            items.append((r["text"], GENERIC_CONTEXT.format(word=r["text"]), pos,
                          r["source_kind"]))
            owners.append((r["text"], None))
    scored = score_many(items)
    per_entity: dict[str, list[tuple[ClassId, SenseScores]]] = {}
    for (text, class_id), s in zip(owners, scored, strict=True):
        per_entity.setdefault(text, []).append((class_id, s))

    entities, class_entities = [], []
    for r in sorted(rows, key=lambda r: r["text"]):
        eid = unit_id(r["text"])
        sense = _aggregate(per_entity.get(r["text"], []), method)
        if sense["synset"] is not None:
            kind, kind_source = resolve_kind(sense["synset"], r["source_kind"],
                                             _kind_source(r["sources"]))
        elif r["n_words"] > 1 and phrase_kind(r["text"]) is not None:
            kind, kind_source = phrase_kind(r["text"]), "wordnet"
        else:
            kind, kind_source = r["source_kind"], _kind_source(r["sources"])
        if kind is None or kind not in ENTITY_KINDS:
            kind, kind_source = (kind if kind in ENTITY_KINDS else OBJECTS), "default"
        synset = sense["synset"]
        entities.append(Entity(
            eid, r["text"], kind, kind_source, r["source_kind"], r["n_words"], synset,
            gloss(synset) if synset else None, "wordnet_gloss" if synset else None,
            synset is None, method if synset else None, sense["confidence"],
            sense["runner_up"], sense["lesk"], sense["embedding"], sense["agreement"],
            r["n_classes"], r["sources"]))
        own = sense["per_class"]
        for link in r["links"]:
            class_entities.append(ClassEntity(link.class_id, eid, kind, link.score,
                                              link.sources, own.get(link.class_id)))
    class_entities.sort(key=lambda c: (str(c.class_id), c.entity_id))
    stats = {"entities": len(entities), "single_word": sum(e.n_words == 1 for e in entities),
             "with_synset": sum(e.synset is not None for e in entities),
             "needs_description": sum(e.needs_description for e in entities),
             "wsd_items": len(items),
             "kind_source": dict(Counter(e.kind_source for e in entities)),
             "kinds": dict(Counter(e.kind for e in entities))}
    return EntityCorpus(entities, class_entities, method, stats)


def _kind_source(sources: Sequence[str]) -> str:
    named = [s for s in sources if s not in (CLASS_NAME_SOURCE, GENERIC_SOURCE)]
    return named[0] if named else (sources[0] if sources else "default")


def _aggregate(scored: list[tuple[ClassId, SenseScores]], method: str) -> dict:
    """One sense for the entity from its per-class scores (mean confidence)."""
    none = {"synset": None, "confidence": None, "runner_up": None, "lesk": None,
            "embedding": None, "agreement": None, "per_class": {}}
    if not scored or not scored[0][1].candidates:
        return none
    candidates = scored[0][1].candidates

    def mean_choice(m: str) -> tuple[str, float, str | None]:
        p = np.mean([_probabilities(s, m) for _, s in scored], axis=0)
        order = np.argsort(-p, kind="stable")
        runner = candidates[order[1]] if len(order) > 1 else None
        return candidates[order[0]], float(p[order[0]]), runner

    synset, confidence, runner_up = mean_choice(method)
    per_class = {cid: s.choose(method).synset for cid, s in scored if cid is not None}
    own = [s.choose(method).synset for _, s in scored]
    return {"synset": synset, "confidence": round(confidence, 4), "runner_up": runner_up,
            "lesk": mean_choice("lesk")[0], "embedding": mean_choice("embedding")[0],
            "agreement": round(own.count(synset) / len(own), 4), "per_class": per_class}
