"""The head comparison (model.compare) and the interpretability report (model.report)."""

import json

import pytest
import torch

from model.compare import (
    cache_regions,
    clip_gflops,
    markdown_table,
    parameter_count,
    regions_description,
)
from model.errors import LearnerError
from model.features.cache import FeatureCache
from model.heads import create_head
from tests.model.conftest import REGION_TOKENS, run_module
from tests.model.test_alt import random_text

HEADS = ("mean", "temporal", "storyboard", "asu", "alt")
SMALL = "{temporal: {layers: 1, heads: 4}, storyboard: {layers: 1, heads: 4}, " \
        "asu: {layers: 1, heads: 4}, alt: {blocks: 1, heads: 4}}"


def test_gflops_count_the_matrix_products_of_one_clip():
    # Mean pooling with a learned D×D projection: L frames × D² multiply-adds, then the
    # (1, D) × (D, C) logits: 2 FLOPs per multiply-add.
    head = create_head("mean", 32)
    text = random_text()  # C = 6, D = 32
    expected = 2 * (8 * 32 * 32 + 32 * 6)
    assert clip_gflops(head, text, frames=8, dim=32) * 1e9 == pytest.approx(expected)
    assert parameter_count(head) == 32 * 32 + 32 + 1  # projection + log τ


def test_gflops_include_the_transformer_layers_in_evaluation_mode():
    # One encoder layer on L = 8 tokens: at least the q/k/v/out projections (4 D²) and the
    # feed-forward layer (8 D²) per token, 2 FLOPs per multiply-add. (Evaluation mode
    # takes PyTorch's fused fast path, which FlopCounterMode would count as 0.)
    head = create_head("temporal", 32, layers=1, heads=4)
    assert clip_gflops(head, random_text(), 8, 32) * 1e9 >= 2 * 8 * 12 * 32 * 32
    assert torch.backends.mha.get_fastpath_enabled()  # restored afterwards


def test_region_tokens_cost_flops_in_alt_only():
    from tests.model.test_alt import small_alt

    alt, text = small_alt(), random_text()
    assert clip_gflops(alt, text, 8, 32, regions=6) > 3 * clip_gflops(alt, text, 8, 32)
    mean = create_head("mean", 32)
    assert clip_gflops(mean, text, 8, 32, regions=6) == clip_gflops(mean, text, 8, 32)
    torch.testing.assert_close(torch.tensor(parameter_count(alt)),
                               torch.tensor(sum(p.numel() for p in alt.parameters())))


def test_markdown_table_has_one_row_per_head():
    rows = [{"head": h, "top1": 0.5, "top5": 0.9, "few_shot_top1": 0.2, "parameters": 1000,
             "gflops_per_clip": 0.001, "train_seconds": 1.0} for h in HEADS]
    meta = {"dataset": "synthetic", "bundle": "b", "encoder": "e", "weights": "random",
            "train_videos": 316, "val_videos": 80, "frames": 8, "epochs": 1, "lr": 0.001,
            "batch_size": 8, "seed": 0, "temporal_views": 2, "crops": 1, "few_shot_k": 2,
            "regions": "none", "head_lr": {"alt": 0.0005}}
    table = markdown_table(rows, meta)
    assert "| head | top-1 | top-5 | 2-shot top-1 | parameters | GFLOPs/clip | train s |" in table
    assert sum(line.startswith("| alt |") for line in table.splitlines()) == 1
    assert "Random CLIP weights" in table
    assert "lr 0.001 (alt: 0.0005), batch 8, seed 0" in table


def test_the_table_names_the_region_tokens_of_the_cache(features, region_features):
    with_regions = cache_regions(FeatureCache.open(region_features["train"]),
                                 FeatureCache.open(region_features["val"]))
    assert with_regions == {"method": "tome", "r": 1, "R": None, "tokens": REGION_TOKENS}
    assert regions_description(with_regions) == \
        f"ToMe (`--regions tome`), r = 1, K = {REGION_TOKENS} per frame"
    assert regions_description({"method": "mra", "r": None, "R": 9, "tokens": 9}) == \
        "multi-region attention (`--regions mra`), R = 9, K = 9 per frame"
    assert cache_regions(FeatureCache.open(features["train"]),
                         FeatureCache.open(features["val"])) is None
    assert regions_description(None).startswith("none in the cache")
    # Training on region tokens and evaluating without them (or the reverse) is refused.
    with pytest.raises(LearnerError, match="region tokens differ"):
        cache_regions(FeatureCache.open(region_features["train"]),
                      FeatureCache.open(features["val"]))


def run_compare(bundle_dir, features, out, *options: str):
    """model.compare through its CLI; the completed process."""
    return run_module(["model.compare", "--bundle", str(bundle_dir),
                       "--train-features", str(features["train"]),
                       "--val-features", str(features["val"]), "--out", str(out),
                       "--epochs", "1", *options])


@pytest.mark.parametrize("option, value, message", [
    ("--head-lr", "{alx: 1e-4}", "head lr for heads not compared: ['alx']"),
    ("--head-lr", "5e-4", "head lr: expected a mapping head -> value, got '5e-4'"),
    ("--head-lr", "{alt: [", "--head-lr '{alt: [': not YAML"),
    ("--head-options", "{alt: {blocks: 1}", "--head-options '{alt: {blocks: 1}': not YAML"),
    ("--head-lr", "{alt: -1}", "head alt: lr: Input should be greater than 0"),
])
def test_bad_per_head_settings_are_refused_by_name(option, value, message, bundle_dir,
                                                   features, tmp_path):
    done = run_compare(bundle_dir, features, tmp_path / "compare", "--heads", "alt",
                       option, value)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "compare" / "comparison.json").exists()


@pytest.mark.slow
def test_compare_on_region_features_states_them(bundle_dir, region_features, tmp_path):
    out = tmp_path / "compare"
    done = run_compare(bundle_dir, region_features, out, "--heads", "mean,alt",
                       "--few-shot-k", "0", "--head-options", "{alt: {blocks: 1, heads: 4}}")
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((out / "comparison.json").read_text())
    assert result["meta"]["head_lr"] == {"alt": 0.0005}  # model.compare.HEAD_LR
    assert result["meta"]["region_tokens"]["tokens"] == REGION_TOKENS
    assert f"Region tokens: ToMe (`--regions tome`), r = 1, K = {REGION_TOKENS} per frame." \
        in (out / "comparison.md").read_text()
    assert [r["head"] for r in result["rows"]] == ["mean", "alt"]


@pytest.mark.slow
def test_compare_and_report_on_the_synthetic_features(bundle_dir, features, tmp_path):
    out = tmp_path / "compare"
    done = run_compare(bundle_dir, features, out, "--head-options", SMALL)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((out / "comparison.json").read_text())
    assert [r["head"] for r in result["rows"]] == list(HEADS)
    for row in result["rows"]:
        assert 0 <= row["top1"] <= row["top5"] <= 1
        assert 0 <= row["order_accuracy"] <= 1  # synthetic: pairs of time reversals
        assert 0 <= row["few_shot_top1"] <= 1 and row["few_shot_videos"] == 20  # 2 × 10
        assert row["parameters"] > 0 and row["gflops_per_clip"] > 0
    by_head = {r["head"]: r for r in result["rows"]}
    assert by_head["alt"]["gflops_per_clip"] > by_head["mean"]["gflops_per_clip"]
    assert "| asu |" in (out / "comparison.md").read_text()
    assert "| head | top-1 | top-5 | within-pair order | 2-shot top-1 |" in \
        (out / "comparison.md").read_text()
    assert "Region tokens: none in the cache" in (out / "comparison.md").read_text()

    report = run_module(["model.report", "--bundle", str(bundle_dir), "--features",
                         str(features["val"]), "--comparison", str(out / "comparison.json"),
                         "--out", str(out / "interpretability"), "--videos", "3"])
    assert report.returncode == 0, report.stderr[-3000:]
    text = (out / "interpretability" / "report.md").read_text()
    assert text.count("## ") == 3
    assert text.count("**ASU selected units per frame**") == 3
    assert text.count("**ALT entity aligned to each region**") == 3
    assert len(list((out / "interpretability" / "images").glob("storyboard-*.png"))) == 3
    # No region tokens, so no region maps: ALT's alignment falls back to the table.
    assert "Region geometry: none in the cache" in text
    assert not list((out / "interpretability" / "images").glob("alt-regions-*.png"))
    # Each ASU row lists top_k = 4 units for each of the 8 frames.
    asu_rows = [line for line in text.splitlines() if line.startswith("| 0 |")]
    assert asu_rows and asu_rows[0].count("(") == 4
