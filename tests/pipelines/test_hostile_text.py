"""Text from an endpoint (sub-texts, units, error bodies) carrying terminal escapes and bidi
overrides is kept as received in the bundle, and escaped wherever a person sees it: the
terminal, Prefect's logs and state messages, and the Prefect UI's artifacts. Real
Prefect, the real fault-injecting endpoint, the real CLI."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import REPO_ROOT
from tests.corpus.faulty_endpoint import BIDI, HOSTILE, FaultyEndpoint

pytestmark = pytest.mark.slow
CLI = [sys.executable, "-m", "pipelines.cli", "corpus"]
RAW = ("\x1b", BIDI)
ESCAPED = "\\x1b[2J\\x1b[31m"

READ_PREFECT = """
import asyncio, json
from pipelines.prefect_settings import configure_prefect_defaults
configure_prefect_defaults()
from prefect.client.orchestration import get_client

async def main():
    async with get_client() as client:
        artifacts = [a.data for a in await client.read_artifacts()]
        logs = [l.message for l in await client.read_logs()]
        states = [r.state.message or "" for r in await client.read_flow_runs()]
        states += [r.state.message or "" for r in await client.read_task_runs()]
    print(json.dumps({"artifacts": artifacts, "logs": logs, "states": states}))

asyncio.run(main())
"""


def _env(tmp_path: Path) -> dict:
    return {**os.environ, "SUBTEXT_CACHE_DIR": str(tmp_path / "cache"),
            "PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_LOGGING_LEVEL": "INFO"}


def _run(args: list, tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *map(str, args)], cwd=REPO_ROOT, env=_env(tmp_path),
                          capture_output=True, text=True, timeout=900)


def _prefect_record(tmp_path: Path) -> dict:
    """What the Prefect UI shows, read back through the Prefect API from the run's database."""
    result = subprocess.run([sys.executable, "-c", READ_PREFECT], cwd=REPO_ROOT,
                            env=_env(tmp_path), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def _build_against(tmp_path: Path, fault: str) -> subprocess.CompletedProcess:
    config = tmp_path / "c.yaml"
    with FaultyEndpoint(0.0, fault_for=lambda request: fault) as endpoint:
        config.write_text(
            "curated: never\nphrase_descriptions: never\nendpoints:\n"
            f"  - {{name: remote, base_url: '{endpoint.base_url}', model: m, retries: 0,"
            " structured_output: openai}\n")
        return _run(["build", "--dataset", "hmdb51", "--classes", "1", "--config", config,
                     "--out", tmp_path / "bundle"], tmp_path)


def _no_raw_controls(*texts: str) -> None:
    for text in texts:
        assert not any(c in text for c in RAW), text[:300]


def test_hostile_subtexts_are_stored_as_received_and_shown_escaped(tmp_path):
    built = _build_against(tmp_path, "hostile")
    assert built.returncode == 0, built.stderr
    _no_raw_controls(built.stdout, built.stderr)
    subtexts = pd.read_parquet(tmp_path / "bundle" / "subtexts.parquet")
    assert subtexts.text.str.contains(HOSTILE, regex=False).all()  # the data is untouched

    shown = _run(["show", tmp_path / "bundle", "--class", "brush_hair"], tmp_path)
    assert shown.returncode == 0, shown.stderr
    _no_raw_controls(shown.stdout)
    assert ESCAPED in shown.stdout and "\\u202e" in shown.stdout

    record = _prefect_record(tmp_path)
    cells = [str(cell) for data in record["artifacts"] for row in json.loads(data)
             for cell in row.values()]
    assert any(ESCAPED in cell for cell in cells)  # the selected sub-texts reached the UI
    _no_raw_controls(*cells, *record["logs"], *record["states"])


def test_a_hostile_error_body_is_escaped_in_the_terminal_logs_and_ui(tmp_path):
    built = _build_against(tmp_path, "hostile-401")
    assert built.returncode == 2
    assert "HTTP 401 key refused \\x1b[2J\\x1b[31m\\u202e" in built.stderr
    _no_raw_controls(built.stdout, built.stderr)
    record = _prefect_record(tmp_path)
    assert any("key refused" in text for text in record["logs"] + record["states"])
    _no_raw_controls(*record["logs"], *record["states"])


def test_a_hostile_name_in_an_imported_file_is_shown_escaped(tmp_path):
    classes = tmp_path / "two.txt"
    classes.write_text("ApplyEyeMakeup\nArchery\n")
    spoiled = f"{HOSTILE}Archery{BIDI}"
    released = tmp_path / "cupl.json"
    released.write_text(json.dumps({
        "Apply Eye Makeup": ["a brush sweeps colour across a closed eyelid",
                             "a mirror held close to the face",
                             f"fingers {HOSTILE}steady the skin near the eye",
                             "a small pencil traces the lash line"],
        spoiled: ["a bow drawn back to the cheek", "an arrow leaves the string",
                  "a target stands far across the field", "the archer lowers the bow"]}))
    done = _run(["import", "--format", "cupl", "--dataset", classes, released,
                 "-o", tmp_path / "bundle", "--plain"], tmp_path)
    assert done.returncode == 1, done.stderr  # Archery has no text: a failed class
    assert "unmatched: in the file, not in the class list (1): " in done.stdout
    assert f"{ESCAPED}Archery\\u202e" in done.stdout
    _no_raw_controls(done.stdout, done.stderr)
    shown = _run(["show", tmp_path / "bundle", "--class", "ApplyEyeMakeup"], tmp_path)
    assert f"fingers {ESCAPED}steady" in shown.stdout
    _no_raw_controls(shown.stdout)
