"""Failed classes are not "up to date": a rerun retries every class whose failure was
transient (unreachable endpoint, timeout, 5xx, 429 until the retry budget ran out), keeps
what succeeded (its LLM replies replay from the cache), and exits 1 while any class is
still failed. Real Prefect, the real fault-injecting endpoint, the real CLI."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from corpus.verify import verify_bundle
from tests.conftest import REPO_ROOT
from tests.corpus.faulty_endpoint import FaultyEndpoint

pytestmark = pytest.mark.slow
BUILD = [sys.executable, "-m", "pipelines.cli", "corpus", "build", "--dataset", "hmdb51"]


def _free_port() -> int:
    """A loopback port nothing listens on (the endpoint is down until a test opens it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config(tmp_path: Path, port: int) -> Path:
    config = tmp_path / "endpoint.yaml"
    config.write_text(
        "curated: never\nphrase_descriptions: never\nendpoints:\n"
        f"  - {{name: remote, base_url: 'http://127.0.0.1:{port}/v1', model: m, timeout_s: 5,"
        " retries: 1, attempts: 3, concurrency: 2, structured_output: openai}\n")
    return config


def _build(tmp_path: Path, classes: int, *extra: str) -> subprocess.CompletedProcess:
    args = [*BUILD, "--classes", str(classes), "--out", str(tmp_path / "bundle"),
            "--config", str(tmp_path / "endpoint.yaml"), *extra]
    env = {**os.environ, "SUBTEXT_CACHE_DIR": str(tmp_path / "cache"),
           "PREFECT_HOME": str(tmp_path / "prefect")}
    return subprocess.run(args, cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=900)


def _failures(tmp_path: Path) -> pd.DataFrame:
    return pd.read_parquet(tmp_path / "bundle" / "failures.parquet")


def _calls(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "bundle" / "manifest.json").read_text())[
        "run"]["llm_usage"]["remote"]


def test_an_unreachable_endpoint_is_retried_on_rerun(tmp_path):
    port = _free_port()
    _config(tmp_path, port)
    down = _build(tmp_path, 2)
    assert down.returncode == 1, down.stderr
    assert "classes: 0 done, 2 failed" in down.stdout
    assert verify_bundle(tmp_path / "bundle") == []
    failures = _failures(tmp_path)
    assert set(failures.class_id) == {0, 1} and failures.transient.all()
    assert failures.reason.str.contains("gave up after 2 tries").all()

    with FaultyEndpoint(0.0, port=port) as endpoint:
        back = _build(tmp_path, 2)  # the same command: no --force
        assert back.returncode == 0, back.stderr
        assert "retrying: " in back.stdout and "2 class(es)" in back.stdout
        assert "classes: 2 done, 0 failed" in back.stdout
        assert endpoint.counts["ok"] > 0
        assert len(_failures(tmp_path)) == 0

        again = _build(tmp_path, 2)
        assert again.returncode == 0, again.stderr
        assert "up to date" in again.stdout and "LLM calls: 0 made" in again.stdout
        served = endpoint.counts["ok"]
    assert verify_bundle(tmp_path / "bundle") == []
    assert served == endpoint.counts["ok"]  # the third run asked the endpoint nothing


def _selected(tmp_path: Path, class_id: int) -> list[str]:
    subtexts = pd.read_parquet(tmp_path / "bundle" / "subtexts.parquet")
    return list(subtexts[(subtexts.class_id == class_id) & subtexts.selected].text)


def _fault_by_class(request: dict) -> str | None:
    """cartwheel: 429 until the retry budget runs out (transient); catch: replies that
    fail validation (not transient: cached, a rerun would replay them)."""
    asked = request["messages"][-1]["content"]
    return "429" if "cartwheel" in asked else "schema" if "catch" in asked else None


def test_only_transient_failures_are_retried_and_successes_replay_from_cache(tmp_path):
    port = _free_port()
    _config(tmp_path, port)
    with FaultyEndpoint(0.0, port=port, fault_for=_fault_by_class) as endpoint:
        first = _build(tmp_path, 3)  # brush_hair, cartwheel, catch
        assert first.returncode == 1, first.stderr
        assert "classes: 1 done, 2 failed" in first.stdout
        failures = _failures(tmp_path)
        by_class = failures.groupby("class_id").transient.agg(set).to_dict()
        assert by_class == {1: {True}, 2: {False}}  # the retry budget ran out on 429s
        before = dict(endpoint.counts)
        kept_text = _selected(tmp_path, 0)

        kept = _build(tmp_path, 3, "--no-retry-failed")
        assert kept.returncode == 1 and "up to date" in kept.stdout
        assert "LLM calls: 0 made" in kept.stdout

        endpoint.fault_for = lambda request: ("schema" if "catch" in
                                              request["messages"][-1]["content"] else None)
        retried = _build(tmp_path, 3)
        assert retried.returncode == 1, retried.stderr
        assert "retrying: " in retried.stdout and "1 class(es)" in retried.stdout
        assert "classes: 2 done, 1 failed" in retried.stdout
        # Only cartwheel asked the endpoint; brush_hair's replies and catch's invalid ones
        # replayed from the cache.
        usage, after = _calls(tmp_path), dict(endpoint.counts)
        assert usage["requests"] == after["ok"] - before["ok"] > 0
        assert after["schema"] == before["schema"] and after["429"] == before["429"]
        assert usage["cache_hits"] == before["ok"] + before["schema"]
        classes = pd.read_parquet(tmp_path / "bundle" / "classes.parquet")
        assert list(classes.status) == ["ok", "ok", "failed"]
        assert _selected(tmp_path, 0) == kept_text

        final = _build(tmp_path, 3)  # only a non-transient failure is left: nothing to retry
        assert final.returncode == 1 and "up to date" in final.stdout
        assert "LLM calls: 0 made" in final.stdout
    assert set(_failures(tmp_path).class_id) == {2}
    assert not _failures(tmp_path).transient.any()
