"""Hostile inputs through the real CLI: each refused with one clear line and exit 2, no
traceback; a key pasted where a variable's name belongs is never echoed anywhere."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

CLI = [sys.executable, "-m", "pipelines.cli"]
KEY = "sk-proj-Q7vX2mLp9RtZ4wKc8NbY3hJd6FsA1gUe"


def _run(args: list, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "SUBTEXT_CACHE_DIR": str(tmp_path / "cache"),
           "PREFECT_HOME": str(tmp_path / "prefect"), **env}
    return subprocess.run([*CLI, *map(str, args)], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize(("content", "message"), [
    (b"run\n" + b"x" * 200_000 + b"\n",
     "line 2 is 200000 characters long; a class line may have at most 4096"),
    (b"run\nju\x00mp\n", "line 2: U+0000 (control character) at column 3"),
    (b"run\n\x1b]0;pwned\x07jump\n", "line 2: U+001B (control character) at column 1"),
    ("run\njump\u202egnik\n".encode(), "line 2: U+202E RIGHT-TO-LEFT OVERRIDE"),
    ("run\nju\u200dmp\n".encode(), "line 2: U+200D ZERO WIDTH JOINER"),
    (b"Jump\nrun\njump\n", "line 3: class 'jump' and line 1's 'Jump' are the same name"),
    (b"long_jump\nLong Jump\n", "line 2: class 'Long Jump' and line 1's 'long_jump'"),
])
def test_hostile_class_lists_get_one_clear_line(tmp_path, content, message):
    classes = tmp_path / "hostile.txt"
    classes.write_bytes(content)
    result = _run(["corpus", "build", "--dataset", classes, "--out", tmp_path / "b"], tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(
        f"error: class list {classes}: ")
    assert message in result.stderr
    assert "Traceback" not in result.stderr and "\x1b" not in result.stderr
    assert not (tmp_path / "b").exists()


def _key_parts(key: str) -> set[str]:
    return {key[i:j] for i in range(len(key)) for j in range(i + 6, len(key) + 1)}


def _leaks(texts: list[str], roots: list[Path]) -> list[str]:
    """Every place any 6+ character part of KEY shows up."""
    parts = _key_parts(KEY)
    found = [f"output: {p!r}" for t in texts for p in parts if p in t]
    for root in roots:
        for f in (p for p in root.rglob("*") if p.is_file()):
            data = f.read_bytes()
            found += [f"{f}: {p!r}" for p in parts if p.encode() in data]
    return found


def _config_with_key_as_name(tmp_path: Path) -> Path:
    config = tmp_path / "c.yaml"
    config.write_text("curated: never\nendpoints:\n  - {name: remote, base_url: "
                      f"'http://127.0.0.1:9/v1', model: m, api_key_env: '{KEY}'}}\n")
    return config


def test_a_key_in_api_key_env_is_refused_and_never_echoed(tmp_path):
    config = _config_with_key_as_name(tmp_path)
    result = _run(["corpus", "build", "--dataset", "hmdb51", "--classes", "1", "--config",
                   config, "--out", tmp_path / "b"], tmp_path)
    assert result.returncode == 2
    assert "this looks like a key, not the name of an environment variable" in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    tmp_path.joinpath("cache").mkdir(exist_ok=True)
    assert _leaks([result.stdout, result.stderr],
                  [tmp_path / "cache", tmp_path / "prefect"]) == []
    assert not (tmp_path / "b").exists()


@pytest.mark.slow
def test_the_flow_started_from_the_ui_does_not_log_the_key(tmp_path):
    """The same config given to the Prefect flow itself (as a deployment run from the UI
    would): the failed run's logs and state messages, stored in the Prefect database, hold
    no part of the key."""
    config = _config_with_key_as_name(tmp_path)
    code = ("from pipelines.prefect_settings import configure_prefect_defaults\n"
            "configure_prefect_defaults()\n"
            "from pipelines.corpus_flow import build_corpus\n"
            f"build_corpus(dataset='hmdb51', classes=1, config={str(config)!r}, "
            f"out={str(tmp_path / 'b')!r})\n")
    env = {**os.environ, "SUBTEXT_CACHE_DIR": str(tmp_path / "cache"),
           "PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_LOGGING_LEVEL": "DEBUG"}
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode != 0
    assert "this looks like a key" in result.stdout + result.stderr
    assert any((tmp_path / "prefect").rglob("*.db"))  # the logs were stored, and searched
    assert _leaks([result.stdout, result.stderr], [tmp_path / "prefect"]) == []
