"""A real local Prefect server: a corpus build reports to it, and Prefect's own client
reads the flow run, its task runs and its table artifacts back."""

import asyncio
import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    home = tmp_path_factory.mktemp("prefect-server")
    port = _free_port()
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env.pop("PREFECT_API_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
         "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("prefect server did not become healthy in 90 s")
    yield url
    proc.terminate()
    proc.wait(timeout=30)


def test_a_build_shows_up_in_the_server(server, tmp_path):
    out = tmp_path / "synthetic"
    env = {**os.environ, "PREFECT_API_URL": server}
    result = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "corpus", "build", "--dataset", "synthetic",
         "--config", "data/configs/curated-only.yaml", "--out", str(out)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr

    async def read_back():
        from prefect.client.orchestration import get_client
        from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

        async with get_client() as client:
            runs = await client.read_flow_runs()
            tasks = await client.read_task_runs()
            artifacts = await client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["selected-subtexts",
                                                                           "tpp-by-source"])))
            return runs, tasks, artifacts

    # Prefect reads its settings once per process: an earlier test's in-process flow may
    # have fixed the API URL to an ephemeral server, so name this server explicitly.
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: server}):
        runs, tasks, artifacts = asyncio.run(read_back())
    # Only this build's run counts: another process on the machine may report to a server
    # that later held this port.
    ours = [r for r in runs if str(r.parameters.get("out")) == str(out)]
    assert [r.state_type.value for r in ours] == ["COMPLETED"]
    tasks = [t for t in tasks if t.flow_run_id == ours[0].id]
    artifacts = [a for a in artifacts if a.flow_run_id == ours[0].id]
    names = [t.name for t in tasks]
    for stage in ("load-classes", "generate-moving_left", "score-tpp", "embed-minilm-l6-v2",
                  "write-bundle"):
        assert any(n.startswith(stage) for n in names), (stage, names)
    assert all(t.state_type.value == "COMPLETED" for t in tasks)
    assert {a.key for a in artifacts} == {"selected-subtexts", "tpp-by-source"}
    table = next(a for a in artifacts if a.key == "selected-subtexts").data
    assert "curated/" in str(table)
