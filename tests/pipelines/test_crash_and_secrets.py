"""Crashes and secrets: kill -9 at any stage loses nothing already written and a rerun
resumes from the caches to the same bytes; an API key never reaches a file."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from corpus.verify import verify_bundle
from tests.conftest import REPO_ROOT
from tests.corpus.fake_endpoint import FakeEndpoint, chat_reply

pytestmark = pytest.mark.slow
CLI = [sys.executable, "-m", "pipelines.cli", "corpus", "build"]
SYNTHETIC = ["--dataset", "synthetic", "--config", "data/configs/curated-only.yaml",
             "--clip", "subtext-tiny", "--pretrained", "random"]


def _env(cache: Path, **extra: str) -> dict:
    return {**os.environ, "SUBTEXT_CACHE_DIR": str(cache), **extra}


def _build(args: list[str], env: dict) -> subprocess.CompletedProcess:
    result = subprocess.run([*CLI, *args], cwd=REPO_ROOT, env=env, capture_output=True,
                            text=True, timeout=900)
    assert result.returncode == 0, result.stderr
    return result


def _content(bundle: Path) -> tuple[dict, dict]:
    """Every file's bytes, and the manifest without its volatile parts."""
    manifest = json.loads((bundle / "manifest.json").read_text())
    for volatile in ("created_at", "run"):
        manifest.pop(volatile)
    files = {p.relative_to(bundle).as_posix(): p.read_bytes()
             for p in bundle.rglob("*") if p.is_file() and p.name != "manifest.json"}
    return files, manifest


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("reference")
    out = root / "bundle"
    _build([*SYNTHETIC, "--out", str(out)], _env(root / "cache"))
    return out


@pytest.mark.parametrize("kill_after_s", [4.0, 7.0, 9.5, 12.0])
def test_kill_9_anywhere_then_resume_gives_identical_bytes(reference, tmp_path, kill_after_s):
    out, cache = tmp_path / "bundle", tmp_path / "cache"
    env = _env(cache)
    proc = subprocess.Popen([*CLI, *SYNTHETIC, "--out", str(out)], cwd=REPO_ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    time.sleep(kill_after_s)
    os.killpg(proc.pid, signal.SIGKILL)  # the CLI and anything it started
    proc.wait()
    # Whatever the moment, the output is absent or complete, never half written.
    if out.exists():
        assert verify_bundle(out) == []
    _build([*SYNTHETIC, "--out", str(out), "--force"], env)
    assert verify_bundle(out) == []
    assert _content(out) == _content(reference)


def test_kill_9_during_llm_generation_resumes_from_the_cache(tmp_path):
    """The embedded llama.cpp server: killed mid-generation, the rerun asks only what is missing."""
    out, cache = tmp_path / "bundle", tmp_path / "cache"
    env = _env(cache)
    args = ["--dataset", "hmdb51", "--classes", "2", "--out", str(out),
            "--config", "data/configs/embedded-always.yaml"]
    proc = subprocess.Popen([*CLI, *args], cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    db = cache / "llm.sqlite"
    deadline = time.monotonic() + 600
    cached = 0
    while time.monotonic() < deadline and cached < 3:
        time.sleep(0.5)
        if db.exists():
            with sqlite3.connect(db) as con:
                cached = con.execute("select count(*) from kv").fetchone()[0]
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert cached >= 3 and not out.exists()
    _build(args, env)
    manifest = json.loads((out / "manifest.json").read_text())
    usage = manifest["run"]["llm_usage"]["embedded"]
    assert usage["cache_hits"] >= cached  # nothing answered before the kill was asked again
    assert verify_bundle(out) == []


def test_api_key_never_reaches_a_file(tmp_path):
    key = "sk-SUBTEXT-LEAK-CANARY-7f3a9c"
    reply = json.dumps({"subtexts": ["the arms swing up high", "knees bend before the jump",
                                     "feet leave the ground fast", "the body lands on a mat"]})
    with FakeEndpoint([], default=(200, chat_reply(reply), {}, 0.0)) as fake:
        config = tmp_path / "c.yaml"
        config.write_text(
            "curated: never\nendpoints:\n"
            f"  - {{name: fake, base_url: '{fake.base_url}', model: m, api_key_env: CANARY_KEY,"
            " structured_output: openai}\n")
        out, cache, home = tmp_path / "bundle", tmp_path / "cache", tmp_path / "prefect"
        result = _build(["--dataset", "hmdb51", "--classes", "2", "--out", str(out),
                         "--config", str(config)],
                        _env(cache, CANARY_KEY=key, PREFECT_HOME=str(home)))
        assert fake.headers_seen and fake.headers_seen[0]["authorization"] == f"Bearer {key}"
    leaks = [p for root in (out, cache, home) for p in root.rglob("*")
             if p.is_file() and key.encode() in p.read_bytes()]
    assert leaks == []
    assert key not in result.stdout + result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["sources"][0]["endpoint"]["api_key_env"] == "CANARY_KEY"
