"""Evaluation protocols end to end through the real CLIs (docs/methods.md §4): zero-shot on a
bundle of classes never trained on (full-class and half-class), and K-shot training.

The trained bundle holds the first six synthetic classes; the held-out bundle the other
four, built by the real corpus CLI from its own class file. Both carry the same
random-weight CLIP, so features of one and text of the other share a space."""

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from model.features.cache import FeatureCache
from model.features.extract import extract
from model.synthetic import CLASSES
from model.video.lists import VideoItem, read_list, write_list
from tests.model.conftest import CORPUS_CONFIG, REPO, run_module, subtext_command

SEEN = 6  # classes 0..5 are trained on; 6..9 are held out
SMALL = ["head=temporal", "head_options={layers: 1, heads: 4}", "progress=false",
         "batch_size=8", "lr=3e-3"]


def build_bundle(out: Path, *args: str) -> Path:
    done = subprocess.run([*subtext_command(), "corpus", "build", "--config",
                           str(CORPUS_CONFIG), "--out", str(out), *args], cwd=REPO,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return out


def subset_list(items: list[VideoItem], classes: range, per_class: int, out: Path) -> Path:
    """The first `per_class` readable videos of each class, relabelled 0.. in `classes`."""
    chosen = []
    for new, old in enumerate(classes):
        mine = [i for i in items if i.label == old and "/corrupt/" not in i.path]
        chosen += [VideoItem(i.path, new) for i in mine[:per_class]]
    write_list(chosen, out, out.parent)
    return out


@pytest.fixture(scope="module")
def split(tmp_path_factory, clips) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("protocols")
    held_out = root / "held-out-classes" / "synthetic.csv"  # stem = curated text's dataset
    held_out.parent.mkdir()
    held_out.write_text("id,name,text\n" + "".join(
        f"{i},{name},{text}\n" for i, (name, text, _) in enumerate(CLASSES[SEEN:])))
    paths = {"seen_bundle": build_bundle(root / "seen", "--dataset", "synthetic",
                                         "--classes", str(SEEN)),
             "unseen_bundle": build_bundle(root / "unseen", "--dataset", str(held_out))}
    train, val = read_list(clips["train"]), read_list(clips["val"])
    lists = {"seen_train": (subset_list(train, range(SEEN), 8, root / "seen_train.txt"),
                            "seen_bundle"),
             "seen_val": (subset_list(val, range(SEEN), 4, root / "seen_val.txt"),
                          "seen_bundle"),
             "unseen_val": (subset_list(val, range(SEEN, len(CLASSES)), 8,
                                        root / "unseen_val.txt"), "unseen_bundle")}
    for name, (list_file, bundle) in lists.items():
        paths[name] = root / "features" / name
        extract(str(paths[bundle]), str(list_file), str(paths[name]), frames=8,
                shard_size=64, workers=0, progress=False)
    return paths


def train_cli(split, out: Path, *extra: str) -> dict:
    done = run_module(["model.train", f"bundle={split['seen_bundle']}",
                       f"train_features={split['seen_train']}", f"out={out}", *SMALL, *extra])
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads((out / "run.json").read_text())


def evaluate_cli(checkpoint: str, bundle: Path, features: Path, out: Path) -> dict:
    done = run_module(["model.evaluate", "--checkpoint", checkpoint, "--bundle", str(bundle),
                       "--features", str(features), "--out", str(out)])
    assert done.returncode == 0, done.stderr[-2000:]
    printed = json.loads(done.stdout.strip().splitlines()[-1])
    report = json.loads((out / "report.json").read_text())
    assert printed["top1"] == report["top1"]
    return report


@pytest.mark.slow
def test_zero_shot_on_held_out_classes_full_and_half_class(split, tmp_path):
    run = train_cli(split, tmp_path / "run", "epochs=2")
    report = evaluate_cli(run["checkpoint"], split["unseen_bundle"], split["unseen_val"],
                          tmp_path / "report")
    assert report["protocol"] == "zero-shot"
    assert report["classes"] == [name for name, _, _ in CLASSES[SEEN:]]
    scores = np.load(tmp_path / "report" / report["scores"])
    labels = FeatureCache.open(split["unseen_val"]).labels
    assert scores.shape == (32, 4) and np.bincount(labels).tolist() == [8, 8, 8, 8]
    assert report["top1"] == pytest.approx(float((scores.argmax(1) == labels).mean()))

    # Half-class protocol, restated: for seeds 0-9, a random half of the classes
    # (numpy default_rng(seed)), the videos of those classes, argmax among those classes.
    half = report["half_class_top1"]
    expected, subsets = [], set()
    for seed in range(10):
        subset = np.sort(np.random.default_rng(seed).choice(4, 2, replace=False))
        subsets.add(tuple(subset))
        keep = np.isin(labels, subset)
        predicted = subset[scores[keep][:, subset].argmax(1)]
        expected.append(float((predicted == labels[keep]).mean()))
    assert len(subsets) > 1, "the ten subsets should not all be the same half"
    assert half["per_seed"] == pytest.approx(expected)
    assert half["mean"] == pytest.approx(np.mean(expected))
    assert half["std"] == pytest.approx(np.std(expected))


@pytest.mark.slow
def test_few_shot_same_seed_same_videos_then_supervised_evaluation(split, tmp_path):
    first = train_cli(split, tmp_path / "a", "epochs=1", "few_shot_k=2", "few_shot_seed=3")
    again = train_cli(split, tmp_path / "b", "epochs=1", "few_shot_k=2", "few_shot_seed=3")
    other = train_cli(split, tmp_path / "c", "epochs=1", "few_shot_k=2", "few_shot_seed=4")
    cache = FeatureCache.open(split["seen_train"])
    label_of = dict(zip(cache.paths, cache.labels.tolist(), strict=True))
    videos = first["few_shot"]["videos"]
    assert first["train_videos"] == 2 * SEEN == len(videos)
    assert sorted(label_of[v] for v in videos) == sorted(list(range(SEEN)) * 2)
    assert again["few_shot"]["videos"] == videos
    assert other["few_shot"]["videos"] != videos
    assert {label_of[v] for v in other["few_shot"]["videos"]} == set(range(SEEN))

    report = evaluate_cli(first["checkpoint"], split["seen_bundle"], split["seen_val"],
                          tmp_path / "report")
    assert report["protocol"] == "supervised" and "half_class_top1" not in report
    assert report["videos"] == 4 * SEEN
