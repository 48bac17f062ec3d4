"""Multi-label data (Charades-style) end to end: `path a,b` lists, multi-hot targets from
the label sets the cache's index stores (or, for older caches, recovered from the list
the cache was extracted from), training with every labelled class a positive, and
evaluation by mAP over per-class sigmoid scores."""

import json
from pathlib import Path

import numpy as np
import pytest

from model.data import multi_hot_labels
from model.errors import LearnerError
from model.features.cache import FeatureCache
from model.features.extract import extract
from model.metrics import mean_average_precision
from model.synthetic import generate_multilabel
from model.video.lists import read_list
from tests.model.conftest import run_module


def label_sets(list_file: Path) -> dict[str, tuple[int, ...]]:
    return {Path(i.path).name: i.label_set for i in read_list(list_file)}


@pytest.fixture(scope="module")
def multilabel(bundle_dir, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("multilabel")
    lists = generate_multilabel(root / "clips", train_clips=80, val_clips=40, seed=0)
    out = dict(lists)
    for split, list_file in lists.items():
        out[f"{split}_features"] = root / "features" / split
        extract(str(bundle_dir), str(list_file), str(out[f"{split}_features"]), frames=16,
                shard_size=32, workers=0, progress=False)
    return out


def test_clips_have_one_or_two_distinct_actions(multilabel):
    sets = label_sets(multilabel["train"])
    assert {len(s) for s in sets.values()} == {1, 2}
    assert all(len(set(s)) == len(s) for s in sets.values())


def test_multi_hot_targets_follow_the_list_even_with_another_videos_root(
        bundle_dir, multilabel, tmp_path):
    """Caches store every label of a line; caches made before that read the list back."""
    cache = FeatureCache.open(multilabel["train_features"])
    targets = multi_hot_labels(cache, 10)
    sets = label_sets(multilabel["train"])
    for row, path in enumerate(cache.paths):
        assert np.flatnonzero(targets[row]).tolist() == sorted(sets[Path(path).name])
    assert cache.labels.tolist() == [sets[Path(p).name][0] for p in cache.paths]

    # The same lines in a list elsewhere, resolved against --videos, one unreadable.
    lines = multilabel["train"].read_text().splitlines()[:5]
    lines[1] = "videos/missing.mp4 3,4"
    moved = tmp_path / "lists" / "five.txt"
    moved.parent.mkdir()
    moved.write_text("\n".join(lines) + "\n")
    extract(str(bundle_dir), str(moved), str(tmp_path / "five"), videos=str(
        multilabel["train"].parent), frames=2, workers=0, progress=False)
    five = FeatureCache.open(tmp_path / "five")
    assert len(five) == 4 and len(five.failed) == 1
    expected = [sets[Path(p).name] for p in five.paths]
    assert five.label_sets == expected
    got = multi_hot_labels(five, 10)
    assert [tuple(np.flatnonzero(r)) for r in got] == [tuple(sorted(s)) for s in expected]

    # A cache whose index predates `labels` (one label per video) reads the list back.
    index_file = tmp_path / "five" / "shard-00000.json"
    index = json.loads(index_file.read_text())
    for video in index["videos"]:
        del video["labels"]
    index_file.write_text(json.dumps(index))
    old = FeatureCache.open(tmp_path / "five")
    assert old.label_sets is None
    np.testing.assert_array_equal(multi_hot_labels(old, 10), got)

    moved.write_text("\n".join(lines[:4]) + "\n")  # the list changed after extraction
    np.testing.assert_array_equal(multi_hot_labels(five, 10), got)  # the index suffices
    with pytest.raises(LearnerError, match="missing or changed"):
        multi_hot_labels(old, 10)


@pytest.mark.slow
def test_training_on_every_label_beats_chance_map(bundle_dir, multilabel, tmp_path):
    reports = {}
    for loss in ("infonce", "bce"):
        out = tmp_path / loss
        done = run_module(["model.train", f"bundle={bundle_dir}",
                           f"train_features={multilabel['train_features']}",
                           f"val_features={multilabel['val_features']}", f"out={out}",
                           "head=temporal", "head_options={layers: 1, heads: 4}",
                           "multilabel=true", f"loss={loss}", "epochs=20", "batch_size=16",
                           "lr=3e-3", "progress=false"])
        assert done.returncode == 0, done.stderr[-2000:]
        checkpoint = json.loads((out / "run.json").read_text())["checkpoint"]
        done = run_module(["model.evaluate", "--checkpoint", checkpoint, "--bundle",
                           str(bundle_dir), "--features", str(multilabel["val_features"]),
                           "--out", str(tmp_path / f"report-{loss}")])
        assert done.returncode == 0, done.stderr[-2000:]
        reports[loss] = json.loads((tmp_path / f"report-{loss}" / "report.json").read_text())

    report = reports["infonce"]
    assert report["protocol"] == "multi-label" and "per_class_accuracy" not in report
    scores = np.load(tmp_path / "report-infonce" / "scores.npy")
    assert ((scores > 0) & (scores < 1)).all()  # per-class sigmoids, not a softmax
    assert not np.allclose(scores.sum(1), 1)
    # mAP restated from the list file's own label sets, not from the learner's targets.
    cache = FeatureCache.open(multilabel["val_features"])
    sets = label_sets(multilabel["val"])
    targets = np.zeros_like(scores)
    for row, path in enumerate(cache.paths):
        targets[row, list(sets[Path(path).name])] = 1
    assert report["mAP"] == pytest.approx(mean_average_precision(scores, targets))
    # Chance: the same scores given to randomly permuted videos.
    rng = np.random.default_rng(0)
    chance = np.mean([mean_average_precision(scores[rng.permutation(len(scores))], targets)
                      for _ in range(200)])
    print({loss: r["mAP"] for loss, r in reports.items()}, "chance", chance)
    assert report["mAP"] > chance + 0.08
    assert reports["bce"]["mAP"] > chance
    metrics = (tmp_path / "infonce" / "metrics.csv").read_text().splitlines()
    assert len(metrics) == 21 and metrics[-1].split(",")[3]  # val hit@1 logged per epoch
