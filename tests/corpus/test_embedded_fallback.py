"""`embedded_llm: fallback` (the default): the embedded SmolLM2 answers only for classes no
curated or imported source covers. A curated dataset's default build starts no llama.cpp
server; a class list without curated text starts the real one. Built by the pipeline's
build function in this process, with the default config and a fresh cache per test."""

import json
from pathlib import Path

import pytest

from corpus.pipeline import build
from corpus.plan import BuildRequest, plan_build


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("SUBTEXT_CACHE_DIR", str(cache))
    return cache


def _manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


def test_a_curated_dataset_starts_no_server(tmp_path, fresh_cache):
    out = tmp_path / "hmdb51"
    summary = build(plan_build(BuildRequest("hmdb51", str(out), classes=3)))
    m = _manifest(out)
    assert m["config"]["embedded_llm"] == "fallback"
    assert m["embedded_llm"]["n_classes"] == 0 and m["embedded_llm"]["classes"] == []
    assert "no server was started" in m["embedded_llm"]["why"]
    assert {s["kind"] for s in m["sources"]} == {"curated"}
    assert m["run"]["llm_usage"]["embedded"]["requests"] == 0
    assert not (fresh_cache / "logs" / "llama-server.log").exists()
    assert summary["classes_ok"] == 3 and summary["embedded_llm"]["n_classes"] == 0


@pytest.mark.slow
def test_a_class_list_without_curated_text_starts_the_real_server(tmp_path, fresh_cache):
    classes = tmp_path / "my-lab-actions.csv"
    classes.write_text("id,name\n0,juggling balls\n1,pouring tea\n")
    out = tmp_path / "mine"
    build(plan_build(BuildRequest(str(classes), str(out))))
    m = _manifest(out)
    assert m["embedded_llm"]["classes"] == ["juggling balls", "pouring tea"]
    assert m["embedded_llm"]["why"] == "fallback: no curated or imported text for these classes"
    assert m["run"]["llm_usage"]["embedded"]["requests"] > 0
    log = fresh_cache / "logs" / "llama-server.log"
    assert log.is_file() and "llama" in log.read_text(errors="replace").lower()
    assert {s["kind"] for s in m["sources"]} == {"llm"}


@pytest.mark.slow
def test_always_asks_the_embedded_model_for_curated_classes_too(tmp_path, fresh_cache):
    config = Path(__file__).resolve().parents[2] / "data/configs/embedded-always.yaml"
    out = tmp_path / "hmdb51"
    build(plan_build(BuildRequest("hmdb51", str(out), classes=2, config=str(config))))
    m = _manifest(out)
    assert m["embedded_llm"]["mode"] == "always"
    assert m["embedded_llm"]["classes"] == ["brush_hair", "cartwheel"]
    assert {s["kind"] for s in m["sources"]} == {"curated", "llm"}
    assert m["run"]["llm_usage"]["embedded"]["requests"] > 0
