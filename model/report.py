"""Interpretability report: what each text-guided head looked at, per evaluation video.

    python -m model.report --bundle B --features VAL --out OUT \
        (--comparison COMPARE_OUT/comparison.json | --checkpoint HEAD=PATH …) [--videos 10]

One Markdown file (OUT/report.md) with, for the first evaluation video of each class
(up to --videos): every head's prediction; the semantic units ASU selected for each
frame with their selection weights; the entity ALT aligned to each region (a table: the
feature cache records no region geometry, so nothing can be drawn over the frame); and
Storyboard's coarse and fine frame weights for the true class (PNG per video).
Views are the centre clip of the first cached crop, as model.train's quick accuracy.
"""

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from model.bundle import load_bundle
from model.config import TrainConfig
from model.data import view_clips
from model.errors import LearnerError
from model.features.cache import FeatureCache
from model.heads.text import ClassTexts
from model.train import build_head, load_checkpoint, region_views


def load_head(checkpoint: str, bundle_dir: str) -> tuple[torch.nn.Module, TrainConfig]:
    state = load_checkpoint(Path(checkpoint))
    cfg = TrainConfig.model_validate(state["config"])
    bundle = load_bundle(bundle_dir, cfg.encoder)
    head = build_head(cfg, bundle.dim, bundle)
    head.load_state_dict(state["head"])
    return head.eval(), cfg


def units_table(head, frames: torch.Tensor, regions: torch.Tensor | None,
                texts: list[str]) -> list[str]:
    """ASU: one row per frame, the selected units (weight)."""
    indices, weights = head.selected_units(frames, regions)
    lines = ["| frame | selected semantic units (selection weight) |", "|---|---|"]
    for lnum, (idx, w) in enumerate(zip(indices[0].tolist(), weights[0].tolist(),
                                        strict=True)):
        cells = ", ".join(f"{texts[i]} ({x:.2f})" for i, x in zip(idx, w, strict=True))
        lines.append(f"| {lnum} | {cells} |")
    return lines


def entities_table(head, frames: torch.Tensor, regions: torch.Tensor | None,
                   texts: list[str], shown: int = 6) -> list[str]:
    """ALT: one row per frame, the aligned entities with their region counts (K regions
    per frame; K = 1 without region features: the frame's own entity)."""
    assigned = head.assignments(frames, regions)[0]  # (L, K)
    k = assigned.shape[1]
    lines = [f"| frame | aligned entity (regions of {k}) |", "|---|---|"]
    for lnum, row in enumerate(assigned.tolist()):
        counts = Counter(row).most_common(shown)
        cells = ", ".join(f"{texts[e]} ×{n}" for e, n in counts)
        lines.append(f"| {lnum} | {cells} |")
    return lines


def frame_weight_plot(head, frames: torch.Tensor, text: ClassTexts, label: int, name: str,
                      path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with torch.no_grad():
        _, weights = head.frame_weights(frames, text)
    fig, ax = plt.subplots(figsize=(4, 2.4))
    for branch, w in weights.items():
        ax.plot(w[0, label].numpy(), marker="o", label=branch)
    ax.axhline(1 / frames.shape[1], color="grey", lw=0.8, ls="--", label="uniform")
    ax.set_xlabel("frame")
    ax.set_ylabel("weight")
    ax.set_title(f"storyboard, class {name}", fontsize=8)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def report(bundle_dir: str, features: str, out: str, checkpoints: dict[str, str],
           videos: int = 10) -> Path:
    out_dir = Path(out)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    bundle = load_bundle(bundle_dir)
    cache = FeatureCache.open(features)
    heads = {name: load_head(path, bundle_dir) for name, path in checkpoints.items()}
    frames_per_clip = {cfg.frames for _, cfg in heads.values()}
    if len(frames_per_clip) != 1:
        raise LearnerError(f"the runs use different frame counts {sorted(frames_per_clip)}")
    length = frames_per_clip.pop()
    drop_sot = {cfg.drop_sot for _, cfg in heads.values()}.pop()
    text = ClassTexts.from_bundle(bundle, drop_sot)
    names = bundle.class_names
    labels = cache.labels
    chosen = [int(np.flatnonzero(labels == c)[0]) for c in np.unique(labels)][:videos]
    clips = view_clips(cache.get(chosen)[:, :1], length, 1)[:, 0]
    all_regions = region_views(cache, length, 1, crops=1)
    # Names, not the embedded texts: an entity's text carries its whole description.
    unit_texts = [i.item_id.replace("_", " ") for i in bundle.units.items]
    entity_texts = [i.item_id.replace("_", " ") for i in bundle.entities.items]

    lines = [f"# Interpretability report: {bundle.manifest['dataset']['name']}", "",
             f"Heads: {', '.join(f'{n} (`{p}`)' for n, p in checkpoints.items())}.",
             f"Evaluation features `{features}`; the centre clip of {length} frames, first "
             f"crop.",
             "Region tokens: " + ("from the cache." if all_regions is not None else
                                  "none in the cache; ALT aligns one entity per frame "
                                  "(the frame is its single region), ASU selects from the "
                                  "frame token alone."), ""]
    if bundle.random_weights:
        lines += ["Random CLIP weights: unit and entity names below are what the head "
                  "chose by random embeddings; they carry no visual meaning.", ""]
    for n, video in enumerate(chosen):
        frames = torch.from_numpy(clips[n:n + 1])
        regions = (None if all_regions is None else
                   torch.from_numpy(all_regions[[video], 0]))
        label = int(labels[video])
        lines += [f"## {Path(cache.paths[video]).name} — true class `{names[label]}`", ""]
        with torch.no_grad():
            predicted = {h: names[int(head(frames, text, regions=regions).argmax())]
                         for h, (head, _) in heads.items()}
        lines += ["Predictions: " + ", ".join(f"{h} `{p}`" for h, p in predicted.items()),
                  ""]
        if "asu" in heads:
            lines += ["**ASU selected units per frame**", "",
                      *units_table(heads["asu"][0], frames, regions, unit_texts), ""]
        if "alt" in heads:
            lines += ["**ALT entity aligned to each region**", "",
                      *entities_table(heads["alt"][0], frames, regions, entity_texts), ""]
        if "storyboard" in heads:
            image = f"images/storyboard-{n:03d}.png"
            frame_weight_plot(heads["storyboard"][0], frames, text, label, names[label],
                              out_dir / image)
            lines += ["**Storyboard coarse / fine frame weights (true class)**", "",
                      f"![frame weights]({image})", ""]
    path = out_dir / "report.md"
    path.write_text("\n".join(lines))
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Interpretability report of trained heads.")
    parser.add_argument("--bundle", required=True)
    parser.add_argument("--features", required=True, help="evaluation feature cache")
    parser.add_argument("--out", required=True)
    parser.add_argument("--comparison", help="comparison.json of model.compare")
    parser.add_argument("--checkpoint", action="append", default=[], help="HEAD=PATH")
    parser.add_argument("--videos", type=int, default=10)
    args = parser.parse_args(argv)
    checkpoints = dict(c.split("=", 1) for c in args.checkpoint)
    if args.comparison:
        rows = json.loads(Path(args.comparison).read_text())["rows"]
        checkpoints |= {r["head"]: r["checkpoint"] for r in rows
                        if r["head"] in ("asu", "alt", "storyboard")}
    try:
        if not checkpoints:
            raise LearnerError("no checkpoints: give --comparison or --checkpoint HEAD=PATH")
        print(report(args.bundle, args.features, args.out, checkpoints, args.videos))
    except LearnerError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
