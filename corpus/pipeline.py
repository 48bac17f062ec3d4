"""The corpus build as plain functions, in one body:

    plan → generate (per class) → score with TPP → units and entities → embed → write

`corpus.plan.plan_build` resolves a request (dataset, config file, overrides) into a
`BuildPlan`; `build(plan, stages)` runs the stages. `stages` says how each step runs:
`PlainStages` calls it in this process (threads for the per-class step), and
pipelines/corpus_flow.py's Prefect stages run the same calls as tasks, so a run shows in
the Prefect UI with retries declared on its tasks. Nothing here imports Prefect.
"""

import dataclasses
import functools
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
from tqdm import tqdm

import contract
from corpus import store
from corpus.card import dataset_card
from corpus.config import CorpusConfig
from corpus.encoders import EmbeddingCache, TextEncoder
from corpus.knowledge import describer_client, semantic_knowledge
from corpus.llm.client import LLMClient, Usage
from corpus.manifest import manifest, summary
from corpus.plan import BuildPlan
from corpus.printable import printable
from corpus.selection import ScoredClass, score_classes, tpp_encoder, tpp_summary, tpp_texts
from corpus.sources import (
    GeneratedClass,
    SourcesKey,
    generate_for,
    llm_clients,
    make_sources,
    shared_sources,
)
from corpus.tables import bundle_encoders, counts, embedding_rows, embeddings_table, text_tables

# -- how the stages run -------------------------------------------------------------------

class Stages(Protocol):
    """How `build` runs its steps: in-process (PlainStages) or as Prefect tasks."""

    def stage(self, name: str, fn: Callable[..., Any], *args: Any) -> Any:
        """Run one whole-dataset step and return its result."""

    def per_class(self, fn: Callable[..., GeneratedClass], items: list,
                  key: SourcesKey, workers: int) -> Iterator[GeneratedClass]:
        """fn(item, key) for every item, yielded as each finishes. `key` is small and
        hashable; fn finds the build's sources by it (corpus.sources.sources_for)."""

    def warn(self, message: str) -> None: ...

    def publish(self, scored: list[ScoredClass], tpp: dict) -> None:
        """Show the selection somewhere a user looks (the Prefect UI); may do nothing."""


class PlainStages:
    """The stages as ordinary calls; the per-class step on a thread pool as wide as the
    endpoints can serve at once (LLM calls are I/O)."""

    def stage(self, name: str, fn: Callable[..., Any], *args: Any) -> Any:
        return fn(*args)

    def per_class(self, fn, items, key, workers):
        if workers <= 1:
            yield from (fn(item, key) for item in items)
            return
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(fn, item, key) for item in items]
            for fut in as_completed(futures):
                yield fut.result()

    def warn(self, message: str) -> None:
        print(f"warning: {printable(message)}", file=sys.stderr)

    def publish(self, scored, tpp) -> None:
        pass


def _bar(total: int, desc: str, unit: str) -> tqdm:
    return tqdm(total=total, desc=desc, unit=unit, dynamic_ncols=True, leave=True)


# -- the stages ---------------------------------------------------------------------------

def score(cfg: CorpusConfig, generated: list[GeneratedClass], cache: EmbeddingCache,
          priority: dict[str, int]) -> tuple[list[ScoredClass], TextEncoder]:
    """Embed every class text and candidate sub-text once, then TPP per candidate set."""
    encoder = tpp_encoder(cfg)
    with _bar(len(tpp_texts(cfg, generated)), f"embed for TPP ({encoder.id})", "text") as bar:
        scored = score_classes(cfg, generated, encoder, cache, priority, progress=bar.update)
    return scored, encoder


def embed(encoder: TextEncoder, rows: list[dict], cache: EmbeddingCache,
          batch_size: int) -> pa.Table:
    with _bar(len({r["text"] for r in rows}), f"embed ({encoder.id})", "text") as bar:
        return embeddings_table(encoder, rows, cache, batch_size, progress=bar.update)


def write_bundle(out: Path, tables: dict[str, pa.Table], manifest: dict) -> None:
    """Stage every table and the dataset card, then commit (manifest last, rename)."""
    staging = store.staging_dir(out)
    for rel, table in tables.items():
        store.write_table(staging / rel, table)
    (staging / contract.CARD).write_text(dataset_card(manifest), encoding="utf-8")
    store.commit(staging, out, manifest)


USAGE_FIELDS = tuple(f.name for f in dataclasses.fields(Usage) if f.name != "lock")


def _usage(clients: list[LLMClient], generated: list[GeneratedClass]) -> dict:
    """LLM usage per endpoint: the sum of what each per-class task recorded (the tasks may
    have run in other processes, whose clients this process never sees)."""
    total = {c.endpoint.name: dict.fromkeys(USAGE_FIELDS, 0) for c in clients}
    for g in generated:
        for name, recorded in g.llm_usage.items():
            for k, v in recorded.items():
                total[name][k] += v
    return {name: {k: round(v, 3) if isinstance(v, float) else v for k, v in u.items()}
            for name, u in total.items()}


def _timed(work: dict[str, float], name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """fn, adding the seconds spent inside it to work[name]: the stage's work, without what
    running it as a task costs."""
    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            work[name] = round(work.get(name, 0.0) + time.perf_counter() - started, 3)
    return run


def sources_key(plan: BuildPlan) -> SourcesKey:
    """The request with its file arguments made absolute, so a worker started elsewhere
    (another directory, a Dask worker) reads the same files."""
    def absolute(p: str | None) -> str | None:
        return str(Path(p).resolve()) if p and Path(p).is_file() else p

    r = plan.request
    request = dataclasses.replace(r, dataset=absolute(r.dataset), config=absolute(r.config),
                                  import_file=absolute(r.import_file), out=None)
    return SourcesKey(request, plan.inputs_sha256)


def build(plan: BuildPlan, stages: Stages | None = None) -> dict:
    """Build the bundle `plan` describes and return the run summary."""
    stages = stages or PlainStages()
    started = time.perf_counter()
    cfg = plan.cfg
    stage_times: dict[str, float] = {}
    work: dict[str, float] = {}
    key = sources_key(plan)

    with store.bundle_lock(plan.out), llm_clients(cfg) as clients:
        sources = make_sources(cfg, plan.class_list, clients, plan.prompts)
        clock = time.perf_counter()
        workers = max(1, sum(c.endpoint.concurrency for c in clients))
        generated = []
        with (shared_sources(key, sources),
              _bar(len(plan.class_list.classes), "generate sub-texts", "class") as bar):
            for g in stages.per_class(generate_for, list(plan.class_list.classes), key,
                                      workers):
                generated.append(g)
                bar.update(1)
        generated.sort(key=lambda g: g.action.class_id)
        stage_times["generate_s"] = round(time.perf_counter() - clock, 3)
        work["generate-subtexts"] = round(sum(g.work_s for g in generated), 3)
        usage = _usage(clients, generated)
        for c in clients:
            if c.endpoint.embedded:
                c.close()  # free the CPU the embedded server holds before embedding

        clock = time.perf_counter()
        cache = EmbeddingCache()
        scored, tpp_enc = stages.stage("score-tpp", _timed(work, "score-tpp", score), cfg,
                                       generated, cache, sources.priority)
        units, entities, knowledge = stages.stage(
            "semantic-units-and-entities",
            _timed(work, "semantic-units-and-entities", semantic_knowledge), cfg, generated,
            scored, describer_client(clients), sources.unit_priority)
        tables = text_tables(scored, units, entities)
        long = sum(tables["subtexts.parquet"].column("truncated").to_pylist())
        if long:
            stages.warn(f"{long} sub-text(s) are over CLIP's 77-token context and are "
                        "truncated when a CLIP encoder embeds them (subtexts.parquet "
                        "`truncated`, `n_tokens`)")
        rows = embedding_rows(tables, cfg.entity_template)
        encoder_info = []
        for enc in bundle_encoders(cfg, tpp_enc):
            name = contract.embeddings_file(enc.id)
            tables[name] = stages.stage(f"embed-{enc.id}", _timed(work, "embed", embed), enc,
                                        rows, cache, cfg.embed_batch_size)
            encoder_info.append({**enc.describe(), "file": name})
        stage_times["score_embed_s"] = round(time.perf_counter() - clock, 3)
        if not any(e["weights"] == "real" and e["tokens"] for e in encoder_info):
            stages.warn(f"No real CLIP weights configured: TPP used {tpp_enc.id}; add CLIP "
                        f"embeddings with `subtext corpus embed {plan.out} --clip MODEL "
                        "--pretrained TAG|PATH`.")

        tpp = tpp_summary(cfg, scored, tpp_enc, sources.priority)
        made = manifest(
            cfg=cfg, class_list=plan.class_list, prompts=plan.prompts,
            unit_prompts=plan.unit_prompts, inputs=plan.inputs_sha256,
            sources=sources.describe(), embedded_llm=sources.embedded.describe(), tpp=tpp,
            encoders=encoder_info,
            counts=counts(tables), knowledge=knowledge,
            run={"llm_usage": usage,
                 "embedding_cache": {"hits": cache.hits, "misses": cache.misses},
                 "stage_times": stage_times,
                 # Seconds inside the tasks (per-class generation summed over classes);
                 # wall_s minus their sum is what orchestrating them cost.
                 "work_s": work,
                 "wall_s": round(time.perf_counter() - started, 3)},
        )
        stages.stage("write-bundle", write_bundle, plan.out, tables, made)
    stages.publish(scored, tpp)
    return summary(plan.out, made)
