"""Shared test set-up: every test run gets its own caches and Prefect home."""

import os
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def one_error_line(done: subprocess.CompletedProcess, *needles: str) -> None:
    """Bad input: exit 2 and one line on stderr that holds every needle (the input's name,
    the problem), no traceback."""
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    for n in needles:
        assert n in done.stderr, (n, done.stderr)


@pytest.fixture(scope="session", autouse=True)
def isolated_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("state")
    os.environ["SUBTEXT_CACHE_DIR"] = str(root / "cache")
    os.environ["PREFECT_HOME"] = str(root / "prefect")
    # Hugging Face `datasets` caches a loaded dataset under its name and config; two test
    # bundles both called hmdb51 would otherwise read each other's (or an older run's) rows.
    os.environ["HF_DATASETS_CACHE"] = str(root / "hf-datasets")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "CRITICAL")
    return root
