"""Shared fixtures: a synthetic bundle built by the real corpus pipeline (curated text,
random-weight subtext-tiny CLIP), PyAV-generated clips, and their cached features."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from model.features.extract import extract
from model.features.regions import ToMeConfig
from model.synthetic import generate

REPO = Path(__file__).resolve().parents[2]
CORPUS_CONFIG = Path(__file__).with_name("synthetic-corpus.yaml")


def run_module(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True,
                          text=True, **kwargs)


def subtext_command() -> list[str]:
    return [shutil.which("subtext") or str(Path(sys.executable).with_name("subtext"))]


@pytest.fixture(scope="session")
def bundle_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "synthetic"
    done = subprocess.run([*subtext_command(), "corpus", "build", "--dataset", "synthetic",
                           "--config", str(CORPUS_CONFIG), "--out", str(out)], cwd=REPO,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return out


@pytest.fixture(scope="session")
def clips(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("clips")
    return generate(root, train_per_class=32, val_per_class=8, corrupt=4, seed=0)


@pytest.fixture(scope="session")
def features(tmp_path_factory, bundle_dir, clips) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("features")
    out = {}
    for split, list_file in clips.items():
        out[split] = root / split
        extract(str(bundle_dir), str(list_file), str(out[split]), frames=16, shard_size=128,
                workers=0, progress=False)
    return out


# ToMe on the tiny ViT (16 patches, 4 blocks): r = 1 leaves 12 regions, merged on to K = 4.
REGION_TOKENS = 4


@pytest.fixture(scope="session")
def region_features(tmp_path_factory, bundle_dir) -> dict[str, Path]:
    """A small cache WITH region tokens and region maps (ToMe, K = REGION_TOKENS, 8
    frames) of its own clips, 6 training and 2 evaluation videos per class: small enough
    to train the region heads on in seconds."""
    root = tmp_path_factory.mktemp("region-features")
    lists = generate(root / "clips", train_per_class=6, val_per_class=2, seed=5)
    out = {}
    for split, list_file in lists.items():
        out[split] = root / split
        extract(str(bundle_dir), str(list_file), str(out[split]), frames=8, workers=0,
                progress=False, regions=ToMeConfig(r=1, tokens=REGION_TOKENS))
    return out
