"""Semantic units (Attentive Semantic Units) and the entity corpus (Align before
Adapt): extraction and normalisation with spaCy, the shared unit vocabulary,
word-sense disambiguation and typing on WordNet 3.0. Method: docs/entities.md.

- normalise.py       raw unit text -> normal form, or a rejection reason
- semantic_units.py  per-class raw units from any source -> shared vocabulary + links
- wsd.py             Lesk, MiniLM-embedding and combined WSD of single words
- kinds.py           kind of a sense by hypernym closure (body part, role, scene, ...)
- entity_corpus.py   vocabulary -> entities with sense, gloss and kind + class links
- models.py          spaCy, WordNet and MiniLM, each loaded once per process
"""

from corpus.entities.entity_corpus import (
    GENERIC_BODY_PARTS,
    ClassEntity,
    Entity,
    EntityCorpus,
    build_entity_corpus,
    wsd_context,
)
from corpus.entities.kinds import (
    ALL_KINDS,
    ENTITY_KINDS,
    UNIT_KINDS,
    phrase_kind,
    resolve_kind,
    wordnet_kind,
)
from corpus.entities.normalise import (
    Normalised,
    class_name_units,
    normalise_unit,
    normalise_units,
    split_items,
)
from corpus.entities.semantic_units import (
    CLASS_NAME_SOURCE,
    UNKNOWN_KIND,
    ClassUnit,
    Rejection,
    Unit,
    Vocabulary,
    build_vocabulary,
    class_name_source,
)
from corpus.entities.wsd import (
    DEFAULT_METHOD,
    METHODS,
    SenseChoice,
    disambiguate,
    disambiguate_many,
    score_many,
)

__all__ = [
    "ALL_KINDS", "CLASS_NAME_SOURCE", "DEFAULT_METHOD", "ENTITY_KINDS", "GENERIC_BODY_PARTS",
    "METHODS", "UNIT_KINDS", "UNKNOWN_KIND", "ClassEntity", "ClassUnit", "Entity",
    "EntityCorpus", "Normalised", "Rejection", "SenseChoice", "Unit", "Vocabulary",
    "build_entity_corpus", "build_vocabulary", "class_name_source", "class_name_units",
    "disambiguate", "disambiguate_many", "normalise_unit", "normalise_units",
    "phrase_kind", "resolve_kind", "score_many", "split_items", "wordnet_kind",
    "wsd_context",
]
