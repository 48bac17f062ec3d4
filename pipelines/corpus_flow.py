"""The corpus build as a Prefect flow: load → generate → validate/score → embed → write.

Flows stay thin: every step is an ordinary function in `corpus.build`. Retries and
concurrency are declared on the tasks and the task runner. Without a server the flow
runs on Prefect's ephemeral API; with PREFECT_API_URL set it shows in that server's UI.
"""

import logging
import time
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed
from prefect.logging.handlers import PrefectConsoleHandler
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.utilities.annotations import unmapped
from tqdm import tqdm

from corpus import build
from corpus import bundle as store
from corpus.classes import ActionClass, ClassList, load_class_list
from corpus.config import CorpusConfig, resolve_config
from corpus.encoders import EmbeddingCache
from corpus.errors import SubtextError
from corpus.prompts import load_prompt_set
from corpus.subtexts import Source


def _not_a_user_error(record: logging.LogRecord) -> bool:
    exc = record.exc_info[1] if record.exc_info else None
    return not isinstance(exc, SubtextError)


def quiet_user_errors_on_console() -> None:
    """A bad input ends the run with one clear line from the CLI; keep Prefect's console
    from printing the same error again as a traceback (the UI still gets the full log)."""
    names = logging.root.manager.loggerDict
    loggers = [logging.getLogger(), *(logging.getLogger(n) for n in names)]
    for logger in loggers:
        for handler in getattr(logger, "handlers", []):
            if isinstance(handler, PrefectConsoleHandler):
                handler.addFilter(_not_a_user_error)


@task(name="load-classes", cache_policy=NO_CACHE)
def load_classes(dataset: str, limit: int | None) -> ClassList:
    return load_class_list(dataset).head(limit)


# The LLM client retries transport faults and invalid replies itself; a task retry
# covers the rest (a full disk, a cache locked by a crashed run's leftovers).
@task(name="generate-subtexts", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2,
      task_run_name="generate-{action.name}")
def generate(action: ActionClass, sources: list[Source],
             unit_sources: list) -> build.GeneratedClass:
    return build.generate_class(action, sources, unit_sources)


def _bar(total: int, desc: str, unit: str) -> tqdm:
    return tqdm(total=total, desc=desc, unit=unit, dynamic_ncols=True, leave=True)


@task(name="score-tpp", cache_policy=NO_CACHE)
def score(cfg: CorpusConfig, generated: list[build.GeneratedClass], cache: EmbeddingCache,
          priority: dict[str, int]) -> tuple[list[build.ScoredClass], dict, object]:
    encoder = build.tpp_encoder(cfg)
    with _bar(len(build.tpp_texts(cfg, generated)), f"embed for TPP ({encoder.id})",
              "text") as bar:
        scored = build.score_classes(cfg, generated, encoder, cache, priority,
                                     progress=bar.update)
    return scored, encoder.describe(), encoder


semantic_knowledge = task(build.semantic_knowledge, name="semantic-units-and-entities",
                          cache_policy=NO_CACHE)


@task(name="embed-texts", cache_policy=NO_CACHE, task_run_name="embed-{encoder_id}")
def embed(encoder_id: str, encoder, rows: list[dict], cache: EmbeddingCache,
          batch_size: int) -> object:
    with _bar(len({r["text"] for r in rows}), f"embed ({encoder_id})", "text") as bar:
        return build.embeddings_table(encoder, rows, cache, batch_size, progress=bar.update)


write = task(build.write_bundle, name="write-bundle", cache_policy=NO_CACHE)


def _publish_artifacts(scored: list[build.ScoredClass], tpp: dict) -> None:
    rows = []
    for s in scored:
        sel = s.selected
        rows.append({
            "class": s.action.name,
            "source": sel.candidate.source if sel else "FAILED",
            "tpp": round(sel.tpp, 3) if sel else None,
            "subtexts": " | ".join(sel.candidate.subtexts) if sel else "; ".join(
                f.reason[:120] for f in s.failures),
        })
    create_table_artifact(key="selected-subtexts", table=rows,
                          description="Per class: the TPP-selected candidate set")
    create_table_artifact(
        key="tpp-by-source",
        table=[{"source": k, "mean_tpp": round(v, 3),
                "valid_sets": tpp["valid_by_source"].get(k, 0),
                "selected": tpp["selected_by_source"].get(k, 0)}
               for k, v in tpp["mean_by_source"].items()],
        description="Mean TPP of valid candidate sets per source (model × prompt)",
    )


def run_build(**params) -> dict:
    """Run the flow with as many generation workers as the endpoints can serve at once, so
    classes finish (and the progress bar moves) one after another, not all at the end."""
    cfg = resolve_config(params.get("config"), params.get("clip"), params.get("pretrained"),
                         import_format=params.get("import_format"),
                         import_file=params.get("import_file"))
    workers = max(1, sum(e.concurrency for e in cfg.llm_endpoints()))
    runner = ThreadPoolTaskRunner(max_workers=workers)
    return build_corpus.with_options(task_runner=runner)(**params)


@flow(name="build-corpus", log_prints=True, task_runner=ThreadPoolTaskRunner(max_workers=4))
def build_corpus(dataset: str, out: str, classes: int | None = None,
                 config: str | None = None, clip: str | None = None,
                 pretrained: str | None = None, import_format: str | None = None,
                 import_file: str | None = None) -> dict:
    """Build a TPP-selected sub-text corpus bundle for a dataset's class list."""
    clock = build.Stopwatch()
    logger = get_run_logger()
    cfg = resolve_config(config, clip, pretrained, import_format=import_format,
                         import_file=import_file)
    class_list = load_classes(dataset, classes)
    prompts = load_prompt_set(cfg.prompts)
    out_path = Path(out)
    stage_times: dict[str, float] = {}

    with store.bundle_lock(out_path), build.llm_clients(cfg) as clients:
        sources = build.make_sources(cfg, class_list, clients, prompts)
        unit_sources = build.make_unit_sources(cfg, class_list, clients)
        started = time.perf_counter()
        futures = generate.map(list(class_list.classes), sources=unmapped(sources),
                               unit_sources=unmapped(unit_sources))
        generated = []
        with _bar(len(futures), "generate sub-texts", "class") as bar:
            for fut in as_completed(futures):
                generated.append(fut.result())
                bar.update(1)
        generated.sort(key=lambda g: g.action.class_id)
        stage_times["generate_s"] = round(time.perf_counter() - started, 3)
        usage = {c.endpoint.name: {k: round(v, 3) if isinstance(v, float) else v
                                   for k, v in vars(c.usage).items() if k != "lock"}
                 for c in clients}
        source_info = [s.describe() for s in [*sources, *unit_sources]]
        for c in clients:
            if c.endpoint.embedded:
                c.close()  # free the CPU the embedded server holds before embedding

        cache = EmbeddingCache()
        started = time.perf_counter()
        priority = {s.id: s.priority for s in sources}
        scored, tpp_encoder_info, tpp_enc = score(cfg, generated, cache, priority)
        units, entities, knowledge = semantic_knowledge(
            cfg, generated, scored, build.describer_client(cfg, clients),
            {s.id: s.priority for s in unit_sources})
        tables = {
            "classes.parquet": build.classes_table(scored),
            "subtexts.parquet": build.subtexts_table(scored),
            "failures.parquet": build.failures_table(scored),
            **build.knowledge_tables(units, entities),
        }
        rows = build.embedding_rows(tables, cfg.entity_template)
        encoder_info = []
        for enc in build.bundle_encoders(cfg, tpp_enc):
            tables[store.embeddings_file(enc.id)] = embed(enc.id, enc, rows, cache,
                                                          cfg.embed_batch_size)
            encoder_info.append({**enc.describe(), "file": store.embeddings_file(enc.id)})
        stage_times["score_embed_s"] = round(time.perf_counter() - started, 3)
        if not any(e["weights"] == "real" and e["tokens"] for e in encoder_info):
            logger.warning(
                "No real CLIP weights configured: TPP used %s; add CLIP embeddings with "
                "`subtext corpus embed %s --clip MODEL --pretrained TAG|PATH`.",
                tpp_encoder_info["id"], out)

        tpp = build.tpp_summary(cfg, scored, tpp_enc, priority)
        manifest = build.manifest(
            cfg=cfg, class_list=class_list, prompts=prompts, sources=source_info, tpp=tpp,
            encoders=encoder_info,
            counts=build.counts(tables, cfg.n_subtexts), knowledge=knowledge,
            run={"llm_usage": usage, "embedding_cache": {"hits": cache.hits,
                                                         "misses": cache.misses},
                 "stage_times": stage_times, "wall_s": clock()},
        )
        write(out_path, tables, manifest)
    _publish_artifacts(scored, tpp)
    return build.summary(out_path, manifest)
