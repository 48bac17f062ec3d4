"""Scale-out: the per-class tasks of a build on a real local Dask cluster (2 worker
processes, prefect-dask's DaskTaskRunner) give the same bundle, checksum for checksum, as
the default thread runner, and the tasks really ran in the workers."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow
BUILD = [sys.executable, "-m", "pipelines.cli", "corpus", "build", "--dataset", "hmdb51",
         "--classes", "6"]


def _build(out: Path, *args: str) -> dict:
    result = subprocess.run([*BUILD, "--out", str(out), *args], cwd=REPO_ROOT,
                            env=os.environ.copy(), capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads((out / "manifest.json").read_text())


def _sources_built_in_worker() -> int:
    from corpus import sources

    return len(sources._SOURCES)


def test_a_build_on_two_dask_workers_matches_the_thread_runner(tmp_path):
    from distributed import Client, LocalCluster

    reference = _build(tmp_path / "threads")
    with (LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                       dashboard_address=None) as cluster, Client(cluster) as client):
        client.run(os.chdir, str(REPO_ROOT))
        on_dask = _build(tmp_path / "dask", "--task-runner", f"dask={cluster.scheduler_address}")
        built = client.run(_sources_built_in_worker)
    assert len(built) == 2 and sum(built.values()) >= 1  # the classes ran in the workers
    assert on_dask["files"] == reference["files"]  # every file: same sha256, rows, bytes
    assert on_dask["inputs_sha256"] == reference["inputs_sha256"]
    assert on_dask["counts"]["classes_ok"] == 6
    assert on_dask["run"]["work_s"]["generate-subtexts"] > 0


def test_an_unknown_task_runner_is_one_clear_line(tmp_path):
    result = subprocess.run([*BUILD, "--out", str(tmp_path / "x"), "--task-runner", "ray"],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert result.stderr.strip() == ("error: --task-runner ray: unknown runner 'ray'; choose "
                                     "one of thread, dask (dask takes =ADDRESS)")
