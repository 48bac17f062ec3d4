"""Semantic units (ASU) and the entity corpus (ALT) of a whole action set, from the raw
units every class's unit sources gave. Method: docs/entities.md; the steps themselves
(normalisation, vocabulary, WSD, typing) live in `corpus.entities`."""

from corpus.config import CorpusConfig
from corpus.entities import (
    CLASS_NAME_SOURCE,
    ENTITY_KINDS,
    UNIT_KINDS,
    UNKNOWN_KIND,
    EntityCorpus,
    Vocabulary,
    build_entity_corpus,
    build_vocabulary,
    class_name_source,
)
from corpus.errors import LLMFatalError, SubtextError
from corpus.llm.client import LLMClient
from corpus.selection import ScoredClass
from corpus.sources import GeneratedClass
from corpus.unit_sources import RawUnits, describe_phrase, load_unit_prompts


def best_tier(units: list[RawUnits], priority: dict[str, int]) -> list[RawUnits]:
    """A class's raw units from its best priority tier, as for sub-text selection: the
    embedded SmolLM2's units count only where no better source gave any."""
    if not units:
        return units
    tier = min(priority.get(r.source, 0) for r in units)
    return [r for r in units if priority.get(r.source, 0) == tier]


def semantic_knowledge(cfg: CorpusConfig, generated: list[GeneratedClass],
                       scored: list[ScoredClass], describer: LLMClient | None,
                       priority: dict[str, int]) -> tuple[Vocabulary, EntityCorpus, dict]:
    """ASU's shared unit vocabulary and ALT's WordNet-disambiguated entity corpus."""
    raw: dict[str, dict[int, dict[str, list[str]]]] = {}
    for g in generated:
        for r in best_tier(g.units, priority):
            raw.setdefault(r.source, {})[r.class_id] = {k: list(v) for k, v in r.units.items()}
    notes = [{"class_id": r.class_id, "source": r.source, "note": n}
             for g in generated for r in g.units for n in r.notes]
    units = build_vocabulary(raw, UNIT_KINDS)
    labels = {g.action.class_id: g.action.label for g in generated}
    entity_vocab = build_vocabulary(raw | {CLASS_NAME_SOURCE: class_name_source(labels)},
                                    kinds=(*ENTITY_KINDS, UNKNOWN_KIND))
    # every sub-text of the class, any candidate set: the sentence an entity came from
    # is often in a set that was not selected
    contexts = {s.action.class_id: (s.action.label,
                                    [t for c in s.scored for t in c.candidate.subtexts])
                for s in scored}
    entities = build_entity_corpus(entity_vocab, contexts)
    described = describe_entities(entities, labels, describer, cfg)
    report = {"wsd_method": entities.method, "entity_template": cfg.entity_template,
              "unit_sources_used": {s: len(c) for s, c in sorted(raw.items())},
              "entity_stats": entities.stats, "phrase_descriptions": described,
              "reply_notes": notes, "unit_problems": units.problems,
              "entity_problems": entity_vocab.problems}
    return units, entities, report


def describe_entities(entities: EntityCorpus, labels: dict[int, str],
                      describer: LLMClient | None, cfg: CorpusConfig) -> dict:
    """ALT: an LLM endpoint rewrites the descriptions that are a composition or a
    curated sentence (`needs_description`) into one visual sentence. Every entity
    already has a description offline; a failed request keeps it."""
    todo = [e for e in entities.entities if e.needs_description]
    if describer is None or cfg.phrase_descriptions == "never":
        return {"asked": 0, "improvable": len(todo),
                "why": "no configured endpoint (the embedded model is not asked)"}
    prompts = load_unit_prompts(cfg.unit_prompts)
    first_class = {ce.entity_id: ce.class_id for ce in reversed(entities.class_entities)}
    failed = 0
    for e in todo:
        label = labels.get(first_class.get(e.entity_id), "")
        try:
            e.description = describe_phrase(describer, prompts, e.text, label)
            e.description_source = f"llm:{describer.endpoint.name}"
            e.needs_description = False
        except LLMFatalError:
            raise
        except SubtextError:
            failed += 1
    return {"asked": len(todo), "failed": failed, "endpoint": describer.endpoint.name}


def describer_client(clients: list[LLMClient]) -> LLMClient | None:
    """The endpoint that describes phrases: the first configured one, never the embedded
    SmolLM2 (its text would be placeholder)."""
    return next((c for c in clients if not c.endpoint.embedded), None)
