"""Typing a sense by its WordNet hypernym closure: which kind of entity or unit it is.

The mapping is data, checked in order (first match wins); a sense matches a rule
when the rule's synset is the sense itself or one of its (instance) hypernyms, or
when the sense's lexicographer file is in the rule's lexnames. The order matters:
rooms, buildings and facilities are artifacts in WordNet, so `scenes` is tested
before `objects`. Verbs are motions when their lexicographer file is one of the
bodily/physical ones. A sense no rule matches (an abstraction such as "crowd", a
verb of cognition) has no WordNet kind; the caller then keeps the source's kind.
"""

from functools import cache

import contract
from corpus.entities.models import wordnet

# The unit and entity kinds, spelled as in the curated files (docs/curated-format.md).
UNIT_KINDS = contract.UNIT_KINDS  # Attentive Semantic Units, in the contract's order
BODY_PARTS, OBJECTS, SCENES, MOTIONS = UNIT_KINDS
ROLES = "roles"
ENTITY_KINDS = (OBJECTS, BODY_PARTS, SCENES, ROLES)  # Align before Adapt
ALL_KINDS = (BODY_PARTS, OBJECTS, SCENES, MOTIONS, ROLES)

# Which WordNet part of speech a kind's single words are disambiguated in.
KIND_POS = {BODY_PARTS: "n", OBJECTS: "n", SCENES: "n", ROLES: "n", MOTIONS: "v"}

# (kind, hypernym synsets, lexicographer files), tested in this order. [ours]
NOUN_KIND_RULES: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    (BODY_PARTS, ("body_part.n.01",), ("noun.body",)),
    (ROLES, ("person.n.01",), ("noun.person",)),
    (SCENES, ("location.n.01", "area.n.05", "structure.n.01", "facility.n.01",
              "geological_formation.n.01", "body_of_water.n.01", "way.n.06",
              "land.n.04", "excavation.n.03", "platform.n.01", "vegetation.n.01",
              "atmosphere.n.05"), ()),
    (OBJECTS, ("artifact.n.01", "natural_object.n.01", "organism.n.01", "substance.n.01",
               "food.n.01", "food.n.02", "plant_part.n.01", "object.n.01"), ()),
)
VERB_KIND_RULES: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    (MOTIONS, (), ("verb.motion", "verb.contact", "verb.competition", "verb.body",
                   "verb.consumption", "verb.creation")),
)


@cache
def hypernym_closure(synset_name: str) -> frozenset[str]:
    """The sense itself and every (instance) hypernym up to the root, by name."""
    synset = wordnet().synset(synset_name)
    ancestors = synset.closure(lambda s: s.hypernyms() + s.instance_hypernyms())
    return frozenset([synset_name, *(s.name() for s in ancestors)])


@cache
def wordnet_kind(synset_name: str) -> str | None:
    """The kind of a WordNet sense by the mapping above, or None when no rule matches."""
    synset = wordnet().synset(synset_name)
    rules = VERB_KIND_RULES if synset.pos() == "v" else NOUN_KIND_RULES
    closure = hypernym_closure(synset_name)
    for kind, roots, lexnames in rules:
        if synset.lexname() in lexnames or not closure.isdisjoint(roots):
            return kind
    return None


def resolve_kind(synset_name: str | None, source_kind: str | None,
                 source: str = "llm") -> tuple[str | None, str]:
    """(kind, kind_source): WordNet's kind when the sense has one, else the source's kind.

    kind_source is "wordnet", or the name of the source whose kind was kept
    ("llm", "curated", "class_name") when there is no sense or no rule matched.
    """
    if synset_name is not None:
        kind = wordnet_kind(synset_name)
        if kind is not None:
            return kind, "wordnet"
    return source_kind, source


def phrase_kind(phrase: str, pos: str = "n") -> str | None:
    """The kind of a multi-word phrase WordNet lists (e.g. "swimming pool") when all of
    its senses agree; None when it is not in WordNet or its senses disagree."""
    synsets = wordnet().synsets(phrase.replace(" ", "_"), pos=pos)
    kinds = {wordnet_kind(s.name()) for s in synsets}
    return kinds.pop() if len(kinds) == 1 else None


ACT_LEXNAMES = frozenset({"noun.act", "noun.event"})


@cache
def is_deverbal(word: str) -> bool:
    """A noun that names an action: WordNet has it as a verb too, and one of its noun
    senses is an act or event ("clap", "hug", "jump", "dive", "golf", "cartwheel",
    "ride"). Used on the word that carries a class name (its first word or its root),
    where such a noun is the action itself, not a thing in the video."""
    wn = wordnet()
    word = word.lower()
    if not wn.synsets(word, pos="v"):
        return False
    return any(s.lexname() in ACT_LEXNAMES for s in wn.synsets(word, pos="n"))
