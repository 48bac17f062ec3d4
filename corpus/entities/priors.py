"""Domain priors for senses in action context, from WordNet's own structure.

Action videos show people, their bodies, what they hold and where they are. A sense
gets +1 when it is in such a domain and -1 when it is in a domain the action
vocabulary never touches — unless the class's own context names that domain ("chess"
in "playing chess", an animal in "grooming horse", eating in "eating cake"). No word
is listed: every rule reads a WordNet property of the sense (lexicographer file,
hypernym closure, part holonyms, topic domain). The weight of the prior in the
combined score is tuned in wsd.py. [ours]

Favoured (+1):
- a human body part: a noun.body sense that is part of the body (`body.n.01` among its
  part holonyms, transitively) — hand, knee, eye; not the head of a muscle or of a bone;
- a person (noun.person), an animal (people ride, pet, feed and walk them), sports
  equipment, tools, clothing, instruments and vehicles people handle, a place people
  act in (noun.location, under structure/facility/area/geological formation, or any
  sense kinds.py types as a scene);
  when the source gave a kind, only senses of that kind are favoured; a point
  (point.n.02 and below: an address, home as "where you live", the point a shot aims
  at) is a position, not a place a video shows, and is not favoured (0);

Penalised (-1) unless licensed by the context:
- a topic domain the context does not name (knight.n.02 is in `chess`, cavalry.n.01
  in `military`, a read/write head in `computer_science`); 0 when the context names
  it — by one of the domain's words, or by a word whose first noun sense or one of its
  hypernyms is in that domain ("army" names `military`) — and for a sport's domain;
- animal anatomy (a body part in noun.animal: stifle.n.01, the quadruped's knee),
  licensed by an animal in the context;
- the food sense of a thing (noun.food: "the flesh of a chicken"), licensed by an
  eating word, a food or a cooking verb ("making a cake") in the context;
- a person in a commercial role (under businessperson/capitalist: the poker dealer as
  a trader), licensed by buying, selling or paying in the context;
- a person in an office (under official.n.01: the judge of a court, a diplomat, a
  vote teller), licensed by an institution in the context (a group such as a court or
  a government, or a verb in a topic domain such as `law`: "testifying");
- abstract domains no video shows as a thing: groups, possession (commerce),
  communication, cognition, attributes, states, quantities, time, relations, motives,
  feelings, phenomena (physics), processes, events, shapes, and acts (a sport's name
  where the thing or the place is meant) — except that an act is favoured for a noun
  typed as a motion (a class's own action, "jump"), an act is not penalised for a
  class-name noun of no kind yet ("cliff diving"), nor an event for a scene ("party").
"""

from collections.abc import Iterable
from functools import cache

from corpus.entities.kinds import ENTITY_KINDS, MOTIONS, SCENES, hypernym_closure, wordnet_kind
from corpus.entities.models import wordnet

ABSTRACT_LEXNAMES = frozenset(
    "noun.group noun.possession noun.communication noun.cognition noun.attribute "
    "noun.state noun.quantity noun.time noun.relation noun.motive noun.feeling "
    "noun.phenomenon noun.process noun.event noun.shape noun.act".split())
PLACE_ROOTS = ("structure.n.01", "facility.n.01", "area.n.05", "geological_formation.n.01",
               "body_of_water.n.01", "way.n.06", "land.n.04")
# A point (point.n.02: an address, a home as where one lives, the point a shot aims at)
# is a position, not a place a video shows: not favoured as a place.
POINT_ROOTS = ("point.n.02",)
EQUIPMENT_ROOTS = ("sports_equipment.n.01", "implement.n.01", "clothing.n.01",
                   "musical_instrument.n.01", "conveyance.n.03")
LICENSED_TOPIC_ROOTS = ("sport.n.01", "athletics.n.01", "dancing.n.01")
# People in their commercial role (a dealer as a trader): licensed by buying or selling.
COMMERCE_ROOTS = ("businessperson.n.01", "capitalist.n.02")
COMMERCE_LEXNAMES = frozenset({"verb.possession", "noun.possession"})
# People in an office (official.n.01 and below: a judge at court, a diplomat, a vote
# teller, the bureaucratic "official"): licensed by an institution in the context — a
# word whose first noun sense is a group (a court, a government, a church) or whose
# first verb sense is in a topic domain other than a sport's ("testify", in `law`).
OFFICE_ROOTS = ("official.n.01",)
INSTITUTION = "institution"
# What licenses the food sense: a context word whose first sense is eating or drinking,
# or a food ("eating watermelon", "cooking chicken").
# A cooking verb licenses it too: any verb sense under cook (the senses "make" and
# "prepare" share with cook.v.02 included).
COOKING = "cooking"
COOKING_ROOTS = frozenset({"cook.v.01", "cook.v.02", "cook.v.03"})
FOOD_LEXNAMES = frozenset({"verb.consumption", "noun.food", COOKING})


@cache
def _first_lexnames(word: str) -> frozenset[str]:
    """Lexicographer files of a context word's first noun and first verb sense, COOKING
    when one of its verb senses is cooking ("making" a cake, "baking"), and INSTITUTION
    when its first noun sense is a group or its first verb sense is in a topic domain
    that is not a sport's."""
    wn = wordnet()
    out = set()
    nouns, verbs = wn.synsets(word, pos="n"), wn.synsets(word, pos="v")
    for senses in (nouns, verbs):
        if senses:
            out.add(senses[0].lexname())
    if any(not hypernym_closure(v.name()).isdisjoint(COOKING_ROOTS) for v in verbs):
        out.add(COOKING)
    verb_topic, sport_topic = _topic_words(verbs[0].name()) if verbs else ((), True)
    if (nouns and nouns[0].lexname() == "noun.group") or (verb_topic and not sport_topic):
        out.add(INSTITUTION)
    return frozenset(out)


@cache
def _part_of_body(synset_name: str) -> bool:
    synset = wordnet().synset(synset_name)
    holonyms = synset.closure(lambda s: s.part_holonyms())
    return any(h.name() in ("body.n.01", "homo.n.02") for h in holonyms)


@cache
def _topic_words(synset_name: str) -> tuple[frozenset[str], bool]:
    """(words naming the sense's topic domains, whether every domain is a licensed
    one such as a sport)."""
    synset = wordnet().synset(synset_name)
    domains = synset.topic_domains()
    words = {w for d in domains for lemma in d.lemma_names() for w in lemma.lower().split("_")}
    licensed = all(not hypernym_closure(d.name()).isdisjoint(LICENSED_TOPIC_ROOTS)
                   for d in domains)
    return frozenset(words), licensed


@cache
def _topic_names(synset_name: str) -> frozenset[str]:
    return frozenset(d.name() for d in wordnet().synset(synset_name).topic_domains())


def _in_topics(synset_name: str, topics: frozenset[str]) -> bool:
    return not _topic_names(synset_name).isdisjoint(topics)


def context_lexnames(tokens: Iterable[str]) -> frozenset[str]:
    return frozenset(x for t in tokens if len(t) > 2 for x in _first_lexnames(t))


@cache
def _first_topics(word: str) -> frozenset[str]:
    """Topic domains of a context word's first noun sense and of its hypernyms: "army"
    is in `military`; "guitar" is a musical instrument, and instruments are in `music`."""
    senses = wordnet().synsets(word, pos="n")
    if not senses:
        return frozenset()
    wn = wordnet()
    return frozenset(d.name() for name in hypernym_closure(senses[0].name())
                     for d in wn.synset(name).topic_domains())


@cache
def _topic_senses(word: str) -> tuple[tuple[frozenset[str], frozenset[str]], ...]:
    """(topic domains, gloss words) of each sense of a context word that has a topic
    domain, whatever its part of speech: play.v.07 "play on an instrument" is in
    `music`."""
    return tuple((frozenset(d.name() for d in s.topic_domains()),
                  frozenset(s.definition().lower().split()))
                 for s in wordnet().synsets(word) if s.topic_domains())


@cache
def _kind_words(word: str) -> frozenset[str]:
    """The words naming what a context word's first noun sense is: its hypernyms' and
    their hypernyms' lemmas ("guitar" is a stringed instrument, a musical instrument)."""
    senses = wordnet().synsets(word, pos="n")
    if not senses:
        return frozenset()
    near = {h for s in senses[0].hypernyms() for h in (s, *s.hypernyms())}
    return frozenset(w for h in near for lemma in h.lemma_names() for w in lemma.lower().split("_"))


def context_topics(tokens: Iterable[str]) -> frozenset[str]:
    """The topic domains the context's words belong to (see _first_topics), and the
    topic of a context word's sense whose gloss names what another context word is
    [ours]: in "playing guitar", play.v.07 ("play on an instrument", in `music`) is the
    sense meant, since a guitar is an instrument, so the context names music."""
    tokens = [t for t in tokens if len(t) > 2]
    topics = {x for t in tokens for x in _first_topics(t)}
    every_kind = frozenset().union(*(_kind_words(t) for t in tokens))
    for t in tokens:
        for domains, words in _topic_senses(t):
            hits = words & every_kind  # then check that another word gave them
            if hits and any(not hits.isdisjoint(_kind_words(u)) for u in tokens if u != t):
                topics.update(domains)
    return frozenset(topics)


def domain_prior(synset_name: str, tokens: frozenset[str], lexnames: frozenset[str],
                 kind: str | None = None, topics: frozenset[str] = frozenset()) -> float:
    """+1, 0 or -1 for a sense in a context (its word tokens and their lexnames). A
    favoured sense gets +1 only when its kind is the kind the source gave (`kind`, when
    that is an entity kind): "the top of something" is a place, not the head a
    body-part source meant."""
    synset = wordnet().synset(synset_name)
    other_kind = kind in ENTITY_KINDS and wordnet_kind(synset_name) not in (kind, None)
    favour = 0.0 if other_kind else 1.0
    lexname = synset.lexname()
    closure = hypernym_closure(synset_name)
    topic_words, topic_licensed = _topic_words(synset_name)
    if topic_words:
        named = not tokens.isdisjoint(topic_words) or _in_topics(synset_name, topics)
        return 0.0 if topic_licensed or named else -1.0
    if kind == MOTIONS and lexname == "noun.act":  # a class's own action ("jump")
        return 1.0
    if lexname == "noun.animal" and "body_part.n.01" in closure:
        return 0.0 if "noun.animal" in lexnames else -1.0
    if not closure.isdisjoint(COMMERCE_ROOTS):
        return 0.0 if lexnames & COMMERCE_LEXNAMES else -1.0
    if not closure.isdisjoint(OFFICE_ROOTS):
        return 0.0 if INSTITUTION in lexnames else -1.0
    if lexname == "noun.food":
        return 0.0 if lexnames & FOOD_LEXNAMES else -1.0
    if kind == SCENES and lexname == "noun.event":  # a party, a contest: where it happens
        return 0.0
    if kind is None and lexname == "noun.act":  # a class-name noun: the class's activity
        return 0.0
    if lexname in ABSTRACT_LEXNAMES:
        return -1.0
    if lexname == "noun.body":
        return favour if _part_of_body(synset_name) else 0.0
    if not closure.isdisjoint(POINT_ROOTS):  # a position, not a place one sees
        return 0.0
    if (lexname in ("noun.person", "noun.location", "noun.animal")
            or not closure.isdisjoint(PLACE_ROOTS) or not closure.isdisjoint(EQUIPMENT_ROOTS)
            or wordnet_kind(synset_name) == SCENES):
        return favour
    return 0.0
