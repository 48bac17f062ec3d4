"""The region-aware heads end to end on a cache WITH region tokens (ToMe, K = 4): trained
through the real `python -m model.train`, evaluated through model.evaluate (its region
views), and drawn by model.report over the decoded frames."""

import json
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
import torch

from model.bundle import load_bundle
from model.checkpoint import load_trained_head
from model.data import view_clips, view_regions
from model.evaluate import evaluate, view_scores
from model.features.cache import FeatureCache
from model.heads.text import ClassTexts
from model.metrics import topk_accuracy
from model.report import clip_frames, region_overlay_figure
from tests.model.conftest import REGION_TOKENS, run_module

SMALL = {"asu": "head_options={layers: 1, heads: 4}",
         "alt": "head_options={blocks: 1, heads: 4}"}


@pytest.fixture(scope="module")
def region_runs(bundle_dir, region_features, tmp_path_factory) -> dict[str, Path]:
    """asu and alt trained 2 epochs on the region cache; head -> checkpoint."""
    checkpoints = {}
    for head, options in SMALL.items():
        out = tmp_path_factory.mktemp(f"{head}-regions")
        done = run_module(["model.train", f"bundle={bundle_dir}",
                           f"train_features={region_features['train']}", f"out={out}",
                           f"head={head}", "epochs=2", "batch_size=16", "lr=3e-3",
                           "progress=false", options])
        assert done.returncode == 0, done.stderr[-2000:]
        checkpoints[head] = Path(json.loads((out / "run.json").read_text())["checkpoint"])
    return checkpoints


@pytest.mark.slow
@pytest.mark.parametrize("head", ["asu", "alt"])
def test_region_heads_train_and_evaluate_on_region_tokens(bundle_dir, region_features,
                                                          region_runs, head, tmp_path):
    report = evaluate(str(region_runs[head]), str(bundle_dir), str(region_features["val"]),
                      str(tmp_path), temporal_views=2)
    assert report["head"] == head and report["videos"] == 20
    assert report["views"] == {"temporal": 2, "spatial": 1}
    assert 0 <= report["top1"] <= report["top5"] <= 1
    # The evaluation scored with the cached region tokens (2 views each, view_regions),
    # and the trained head's scores depend on them: without regions they differ.
    cache = FeatureCache.open(region_features["val"])
    trained = load_trained_head(region_runs[head], bundle_dir)
    model, cfg = trained.head, trained.cfg
    text = ClassTexts.from_bundle(load_bundle(str(bundle_dir)), cfg.drop_sot)
    clips = view_clips(cache.all(), cfg.frames, 2)
    regions = view_regions(cache.get_regions(range(len(cache))), cfg.frames, 2)
    assert regions.shape == (20, 2, cfg.frames, REGION_TOKENS, clips.shape[-1])
    with_regions = view_scores(model, clips, text, regions=regions)
    assert topk_accuracy(with_regions, cache.labels, 1) == report["top1"]
    assert not np.allclose(with_regions, view_scores(model, clips, text), atol=1e-4)


@pytest.mark.slow
def test_report_draws_alt_entities_over_the_decoded_frames(bundle_dir, region_features,
                                                           region_runs, tmp_path):
    out = tmp_path / "report"
    done = run_module(["model.report", "--bundle", str(bundle_dir), "--features",
                       str(region_features["val"]), "--out", str(out), "--videos", "2",
                       "--checkpoint", f"alt={region_runs['alt']}",
                       "--checkpoint", f"asu={region_runs['asu']}"])
    assert done.returncode == 0, done.stderr[-3000:]
    text = (out / "report.md").read_text()
    assert "Region geometry: from the cache" in text
    for n in range(2):
        assert f"![ALT entity per region](images/alt-regions-{n:03d}.png)" in text
        image = matplotlib.image.imread(out / "images" / f"alt-regions-{n:03d}.png")
        assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    # One label per region in every frame: the overlay shows all K regions.
    cache = FeatureCache.open(region_features["val"])
    trained = load_trained_head(region_runs["alt"], bundle_dir)
    model, cfg = trained.head, trained.cfg
    geometry = view_regions(cache.get_region_geometry([0])[:, :1], cfg.frames, 1)[0, 0]
    frames = view_clips(cache.get([0])[:, :1], cfg.frames, 1)[:, 0]
    regions = view_regions(cache.get_regions([0])[:, :1], cfg.frames, 1)[:, 0]
    assigned = model.assignments(torch.from_numpy(frames), torch.from_numpy(regions))[0]
    images = clip_frames(cache, 0, cfg.frames)
    assert images.shape[0] == cfg.frames and images.shape[1] == images.shape[2]
    names = [f"entity {i}" for i in range(int(model.entities.shape[0]))]
    fig = region_overlay_figure(images, geometry, assigned.numpy(), names)
    panels = [ax for ax in fig.axes if ax.images]
    assert len(panels) == cfg.frames
    assert all(len(ax.texts) == REGION_TOKENS for ax in panels)
    drawn = {t.get_text() for ax in panels for t in ax.texts}
    assert drawn == {names[e] for e in assigned.flatten().tolist()}
