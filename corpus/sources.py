"""Where a class's candidate sets come from: every configured source, asked per class.

Sources are curated perspectives, imported files and every (model, question prompt)
pair of the configured LLM endpoints (corpus/subtexts.py), plus the unit sources of
ASU and ALT (corpus/unit_sources.py). `generate_class` asks each of them once for one
class; a source that fails is recorded as a failure, never filled in.
"""

import atexit
import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from corpus.cache import KeyValueCache
from corpus.classes import ActionClass, ClassList
from corpus.config import CorpusConfig
from corpus.curated import curated_sources, load_curated
from corpus.errors import ConfigError, LLMError, LLMFatalError, SubtextError
from corpus.formats import import_sources
from corpus.llm.client import LLMClient, record_usage
from corpus.paths import cache_dir
from corpus.plan import BuildRequest, plan_build, use_curated
from corpus.prompts import PromptSet
from corpus.subtexts import Candidate, LLMSource, Source, apply_on_long
from corpus.unit_sources import CuratedUnitSource, LLMUnitSource, RawUnits, load_unit_prompts

UnitSource = CuratedUnitSource | LLMUnitSource


@dataclass(frozen=True)
class Failure:
    class_id: int
    source: str
    reason: str
    attempts: int
    transient: bool  # a rerun may succeed (corpus.errors.LLMError.transient)


@dataclass
class GeneratedClass:
    action: ActionClass
    candidates: list[tuple[int, Candidate]] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    units: list[RawUnits] = field(default_factory=list)
    # What asking the sources cost: LLM usage per endpoint name, and seconds of work
    # (the orchestration overhead of a build is its wall time minus its tasks' work).
    llm_usage: dict[str, dict[str, float]] = field(default_factory=dict)
    work_s: float = 0.0


@dataclass(frozen=True)
class EmbeddedUse:
    """Which classes the embedded SmolLM2 is asked for, and why (config `embedded_llm`)."""

    mode: str
    class_ids: frozenset[int]
    why: str
    names: tuple[str, ...] = ()

    def describe(self) -> dict:
        return {"mode": self.mode, "n_classes": len(self.class_ids),
                "classes": list(self.names), "why": self.why}


def embedded_use(cfg: CorpusConfig, class_list: ClassList, own_text: list[Source]) -> EmbeddedUse:
    """`fallback`: only the classes that no curated or imported source covers."""
    if cfg.endpoints:
        return EmbeddedUse(cfg.embedded_llm, frozenset(), "configured endpoints replace it")
    if cfg.embedded_llm == "never":
        return EmbeddedUse("never", frozenset(), "embedded_llm: never")
    if cfg.embedded_llm == "always":
        chosen = list(class_list.classes)
        why = "embedded_llm: always asks it for every class"
    else:
        chosen = [a for a in class_list.classes if not any(s.covers(a) for s in own_text)]
        why = ("fallback: no curated or imported text for these classes" if chosen else
               "fallback: every class has curated or imported text, so no server was started")
    return EmbeddedUse(cfg.embedded_llm, frozenset(a.class_id for a in chosen), why,
                       tuple(a.name for a in chosen))


@dataclass(frozen=True)
class ClassSources:
    """Everything `generate_class` asks, built once per build and shared by every class."""

    subtexts: list[Source]
    units: list[UnitSource]
    embedded: EmbeddedUse = EmbeddedUse("never", frozenset(), "no embedded model")
    embedded_sources: frozenset[str] = frozenset()  # ids of the sources it answers
    on_long: str = "keep"  # config `on_long`, for generated and curated sets

    def asks(self, source: Source | UnitSource, action: ActionClass) -> bool:
        """Every source is asked for every class, except the embedded model outside the
        classes `embedded_llm` gives it."""
        return (source.id not in self.embedded_sources
                or action.class_id in self.embedded.class_ids)

    @property
    def priority(self) -> dict[str, int]:
        return {s.id: s.priority for s in self.subtexts}

    @property
    def unit_priority(self) -> dict[str, int]:
        return {s.id: s.priority for s in self.units}

    def describe(self) -> list[dict]:
        return [s.describe() for s in [*self.subtexts, *self.units]]


@contextlib.contextmanager
def llm_clients(cfg: CorpusConfig) -> Iterator[list[LLMClient]]:
    """Clients for the configured endpoints; any embedded server is stopped on exit."""
    cache = KeyValueCache(cache_dir() / "llm.sqlite")
    clients = []
    try:
        clients += [LLMClient(e, cache, cache_dir() / "logs") for e in cfg.llm_endpoints()]
        yield clients
    finally:
        for c in clients:
            c.close()
        cache.close()


def make_sources(cfg: CorpusConfig, class_list: ClassList, clients: list[LLMClient],
                 prompts: PromptSet) -> ClassSources:
    """Curated perspectives first, then imported files, then every (model, question) pair;
    the same order for the unit sources."""
    subtexts: list[Source] = []
    units: list[UnitSource] = []
    if use_curated(cfg, class_list.dataset):
        subtexts += curated_sources(class_list.dataset, cfg.curated_priority)
        units.append(CuratedUnitSource(load_curated(class_list.dataset),
                                       priority=cfg.curated_priority,
                                       class_names=tuple(c.name for c in class_list.classes)))
    for spec in cfg.imports:
        subtexts += import_sources(spec.format, Path(spec.path), class_list, cfg.n_subtexts,
                                   spec.priority, spec.label, spec.mapping,
                                   spec.on_long or cfg.on_long)[0]
    embedded = embedded_use(cfg, class_list, subtexts)
    # An embedded model given no class is no source of this bundle (and starts no server).
    asked = [c for c in clients if not c.endpoint.embedded or embedded.class_ids]
    subtexts += [LLMSource(c, prompts, q, cfg.n_subtexts)
                 for c in asked for q in prompts.questions]
    unit_prompts = load_unit_prompts(cfg.unit_prompts)
    units += [LLMUnitSource(c, unit_prompts, q) for c in asked for q in unit_prompts.questions]
    ids = [s.id for s in subtexts]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise ConfigError(f"source ids repeat: {repeated}; give imports distinct labels")
    if not subtexts:
        raise ConfigError(
            f"no text source for {class_list.dataset}: no curated text, no imported set "
            "matched a class, no endpoints, and embedded_llm is never")
    on_embedded = frozenset(s.id for s in [*subtexts, *units] if isinstance(
        s, LLMSource | LLMUnitSource) and s.client.endpoint.embedded)
    return ClassSources(subtexts, units, embedded, on_embedded, cfg.on_long)


# -- the sources of a build, once per process -----------------------------------------------

@dataclass(frozen=True)
class SourcesKey:
    """What a per-class task gets instead of the sources: small and hashable, so handing it
    to a task costs the same for 51 or 700 classes, and enough for a worker in another
    process (a Dask worker) to build the same sources once and check they are the same."""

    request: BuildRequest
    inputs_sha256: str


_SOURCES: dict[SourcesKey, ClassSources] = {}
_SOURCES_LOCK = threading.Lock()


@contextlib.contextmanager
def shared_sources(key: SourcesKey, sources: ClassSources) -> Iterator[None]:
    """The build's own sources, found by `generate_for` in this process while it runs."""
    with _SOURCES_LOCK:
        _SOURCES[key] = sources
    try:
        yield
    finally:
        with _SOURCES_LOCK:
            _SOURCES.pop(key, None)


def sources_for(key: SourcesKey) -> ClassSources:
    """The sources `key` names: the build's own in its process; in a worker process, built
    once from the same request (and closed when the worker exits)."""
    with _SOURCES_LOCK:
        if key not in _SOURCES:
            plan = plan_build(key.request)
            if plan.inputs_sha256 != key.inputs_sha256:
                raise SubtextError(
                    f"a worker sees other inputs for {key.request.dataset} than the build "
                    "(a config, class list or curated file differs on its machine)")
            cache = KeyValueCache(cache_dir() / "llm.sqlite")
            clients = [LLMClient(e, cache, cache_dir() / "logs")
                       for e in plan.cfg.llm_endpoints()]
            atexit.register(_close, clients, cache)
            _SOURCES[key] = make_sources(plan.cfg, plan.class_list, clients, plan.prompts)
        return _SOURCES[key]


def _close(clients: list[LLMClient], cache: KeyValueCache) -> None:
    for c in clients:
        c.close()
    cache.close()


def generate_for(action: ActionClass, key: SourcesKey) -> GeneratedClass:
    """The per-class task: `generate_class` with the sources `key` names."""
    started = time.perf_counter()
    with record_usage() as usage:
        out = generate_class(action, sources_for(key))
    out.llm_usage = usage
    out.work_s = time.perf_counter() - started
    return out


def _transient(err: SubtextError) -> bool:
    return isinstance(err, LLMError) and err.transient


def generate_class(action: ActionClass, sources: ClassSources) -> GeneratedClass:
    """One candidate set per source and raw units per unit source; a source that fails is
    recorded, never filled in."""
    out = GeneratedClass(action)
    for candidate_id, source in enumerate(sources.subtexts):
        if not sources.asks(source, action):
            continue
        try:
            candidate = source.candidate(action)
            if candidate.source_kind != "import":  # checked under its import's own on_long
                candidate = apply_on_long(candidate, sources.on_long)
            out.candidates.append((candidate_id, candidate))
        except LLMFatalError:
            raise
        except SubtextError as err:
            out.failures.append(Failure(action.class_id, source.id, str(err), source.attempts,
                                        _transient(err)))
    for unit_source in sources.units:
        if not sources.asks(unit_source, action):
            continue
        try:
            out.units.append(unit_source.units(action))
        except LLMFatalError:
            raise
        except SubtextError as err:
            out.failures.append(Failure(action.class_id, unit_source.id, str(err), 1,
                                        _transient(err)))
    return out
