"""Bundles shared by the corpus tests.

`bundle` is the end-to-end bundle: the real CLI with the embedded llama.cpp server,
Prefect, MiniLM and a random-weight open_clip encoder (slow; built once per session).
`curated_bundle` is built by the same stage functions the Prefect flow calls, from the
curated text only and scored with the tiny random-weight CLIP encoder: no LLM, no
server, a few seconds — for tests of what happens to a bundle after it is built.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

SUBTEXT = [sys.executable, "-m", "corpus.cli"]


def run_cli(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([*SUBTEXT, *args], cwd=REPO_ROOT, env=os.environ.copy(),
                            capture_output=True, text=True, timeout=900)
    if check and result.returncode != 0:
        raise AssertionError(f"subtext {args} failed:\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="session")
def bundle(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bundles") / "hmdb51"
    run_cli("corpus", "build", "--dataset", "hmdb51", "--classes", "3", "--out", str(out),
            "--clip", "subtext-tiny", "--pretrained", "random")
    return out


def build_curated_bundle(out: Path, dataset: str = "hmdb51", classes: int = 2,
                         drop: frozenset[tuple[str, str]] = frozenset(),
                         encoder_seeds: tuple[int, ...] = (0,), **config) -> Path:
    """A curated-only bundle through the flow's stage functions, without Prefect.

    `drop` removes (class name, source id) candidates as if that source had failed for
    that class, so a second bundle can differ from the first in a known way. Every
    seed in `encoder_seeds` adds a random-weight `subtext-tiny` encoder; the first scores TPP.
    """
    # Imported here: torch and open_clip load only for the tests that build a bundle.
    from corpus import build
    from corpus import bundle as store
    from corpus.classes import load_class_list
    from corpus.config import ClipEncoder, CorpusConfig
    from corpus.encoders import EmbeddingCache
    from corpus.prompts import load_prompt_set

    tiny = [ClipEncoder(model="subtext-tiny", pretrained="random", seed=s)
            for s in encoder_seeds]
    cfg = CorpusConfig(curated="always", embedded_llm=False, encoders=tiny,
                       tpp={"encoder": "clip"}, **config)
    class_list = load_class_list(dataset).head(classes)
    prompts = load_prompt_set(cfg.prompts)
    sources = build.make_sources(cfg, class_list, [], prompts)
    unit_sources = build.make_unit_sources(cfg, class_list, [])
    generated = [build.generate_class(a, sources, unit_sources) for a in class_list.classes]
    for g in generated:
        for candidate_id, c in list(g.candidates):
            if (g.action.name, c.source) in drop:
                g.candidates.remove((candidate_id, c))
                g.failures.append(build.Failure(g.action.class_id, c.source, "dropped", 1))
    cache = EmbeddingCache()
    priority = {s.id: s.priority for s in sources}
    tpp_encoder = build.tpp_encoder(cfg)
    scored = build.score_classes(cfg, generated, tpp_encoder, cache, priority)
    units, entities, knowledge = build.semantic_knowledge(cfg, generated, scored, None, {})
    tables = {"classes.parquet": build.classes_table(scored),
              "subtexts.parquet": build.subtexts_table(scored),
              "failures.parquet": build.failures_table(scored),
              **build.knowledge_tables(units, entities)}
    rows = build.embedding_rows(tables, cfg.entity_template)
    encoder_info = []
    for enc in build.bundle_encoders(cfg, tpp_encoder):
        tables[store.embeddings_file(enc.id)] = build.embeddings_table(
            enc, rows, cache, cfg.embed_batch_size)
        encoder_info.append({**enc.describe(), "file": store.embeddings_file(enc.id)})
    manifest = build.manifest(
        cfg=cfg, class_list=class_list, prompts=prompts,
        sources=[s.describe() for s in sources],
        tpp=build.tpp_summary(cfg, scored, tpp_encoder, priority), encoders=encoder_info,
        counts=build.counts(tables, cfg.n_subtexts), knowledge=knowledge,
        run={"wall_s": 0.0})
    build.write_bundle(out, tables, manifest)
    return out


@pytest.fixture(scope="session")
def curated_bundle(tmp_path_factory) -> Path:
    return build_curated_bundle(tmp_path_factory.mktemp("curated") / "hmdb51")
