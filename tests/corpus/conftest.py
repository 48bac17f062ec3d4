"""Bundles shared by the corpus tests.

`bundle` is the end-to-end bundle: the real CLI with the embedded llama.cpp server (asked
for every class: `embedded_llm: always`), Prefect, MiniLM and a random-weight open_clip
encoder (slow; built once per session).
`curated_bundle` is built by the same build function the Prefect flow runs, without
Prefect, from the curated text only and scored with the tiny random-weight CLIP encoder:
no LLM, no server, a few seconds — for tests of what happens to a bundle after it is
built.
"""

import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT

SUBTEXT = [sys.executable, "-m", "pipelines.cli"]
# The default config, but the embedded SmolLM2 answers for every class, curated or not.
EMBEDDED_ALWAYS = str(REPO_ROOT / "data" / "configs" / "embedded-always.yaml")


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
            "--config", EMBEDDED_ALWAYS, "--clip", "subtext-tiny", "--pretrained", "random")
    return out


@contextlib.contextmanager
def curated_without(dataset: str, drop: frozenset[tuple[str, str]], root: Path) -> Iterator[None]:
    """The project's data folder with the (class name, source id) candidate sets in `drop`
    removed from the dataset's curated file, as if that source had no set for that class."""
    if not drop:
        yield
        return
    data = root / "data"
    shutil.copytree(REPO_ROOT / "data", data, ignore=shutil.ignore_patterns("*.jsonl"))
    lines = []
    for line in (REPO_ROOT / "data" / "curated" / f"{dataset}.jsonl").read_text().splitlines():
        row = json.loads(line)
        row["candidates"] = [c for c in row["candidates"]
                             if (row["class"], f"curated/{c['perspective']}") not in drop]
        lines.append(json.dumps(row))
    (data / "curated" / f"{dataset}.jsonl").write_text("\n".join(lines) + "\n")
    with data_folder(data):
        yield


@contextlib.contextmanager
def data_folder(data: Path) -> Iterator[None]:
    """SUBTEXT_DATA pointed at `data` (a modified copy of the project's data/) inside."""
    before = os.environ.get("SUBTEXT_DATA")
    os.environ["SUBTEXT_DATA"] = str(data)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("SUBTEXT_DATA")
        else:
            os.environ["SUBTEXT_DATA"] = before


def file_digests(root: Path) -> dict[str, str]:
    """sha256 of every file under root, by relative path: a bundle's state, to compare."""
    import hashlib

    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def build_curated_bundle(out: Path, dataset: str = "hmdb51", classes: int = 2,
                         drop: frozenset[tuple[str, str]] = frozenset(),
                         encoder_seeds: tuple[int, ...] = (0,), **config) -> Path:
    """A curated-only bundle built by the pipeline's own build function, in this process
    without Prefect (`subtext corpus build --plain`): no LLM, no server, a few seconds.

    `drop` removes (class name, source id) candidates from the curated text, so a second
    bundle can differ from the first in a known way. Every seed in `encoder_seeds` adds a
    random-weight `subtext-tiny` encoder; the first scores TPP.
    """
    # Imported here: torch and open_clip load only for the tests that build a bundle.
    from corpus.pipeline import build
    from corpus.plan import BuildRequest, plan_build

    settings = {"curated": "always", "embedded_llm": "never", "tpp": {"encoder": "clip"},
                "encoders": [{"model": "subtext-tiny", "pretrained": "random", "seed": s}
                             for s in encoder_seeds], **config}
    config_file = out.parent / f"{out.name}.config.yaml"
    out.parent.mkdir(parents=True, exist_ok=True)
    config_file.write_text(yaml.safe_dump(settings))
    with curated_without(dataset, drop, out.parent):
        build(plan_build(BuildRequest(dataset, str(out), classes, str(config_file))))
    return out


@pytest.fixture(scope="session")
def curated_bundle(tmp_path_factory) -> Path:
    return build_curated_bundle(tmp_path_factory.mktemp("curated") / "hmdb51")
