"""Interpretability report: what each text-guided head looked at, per evaluation video.

    python -m model.report --bundle B --features VAL --out OUT \
        (--comparison COMPARE_OUT/comparison.json | --checkpoint HEAD=PATH …) [--videos 10]

One Markdown file (OUT/report.md) with, for the first evaluation video of each class
(up to --videos): every head's prediction; the semantic units ASU selected for each
frame with their selection weights; the entity ALT aligned to each region (a table, and,
when the cache records region geometry, a PNG of the clip's frames with every region's
patches coloured by its entity and labelled — the frames are decoded again from the
cached video paths); and Storyboard's coarse and fine frame weights for the true class
(PNG per video).
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
from model.checkpoint import load_trained_head
from model.data import region_views, view_clips, view_regions
from model.errors import LearnerError
from model.features.cache import FeatureCache
from model.features.regions import NO_REGION
from model.heads.text import ClassTexts
from model.video.decode import UnreadableVideo, crop_boxes, read_frames
from model.video.lists import FRAME_GLOB, VideoItem
from model.video.sampling import segment_indices, view_offsets


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


def clip_frames(cache: FeatureCache, video: int, length: int) -> np.ndarray:
    """uint8 (L, side, side, 3): the frames of the report's view (centre clip, first crop)
    as the encoder saw them before resizing, decoded again from the cached video path.
    Raises UnreadableVideo when the video is gone or unreadable."""
    path = cache.paths[video]
    # The index keeps no frame count for frame folders; the folder itself has it.
    count = len(list(Path(path).glob(FRAME_GLOB))) if Path(path).is_dir() else None
    cached = read_frames(VideoItem(path, int(cache.labels[video]), count), cache.frames)
    frames = cached[segment_indices(cache.frames, length, view_offsets(length, 1)[0])]
    top, left, side = crop_boxes(frames.shape[1], frames.shape[2],
                                 int(cache.meta.get("crops", 1)))[0]
    return frames[:, top:top + side, left:left + side]


def region_overlay_figure(images: np.ndarray, geometry: np.ndarray, assigned: np.ndarray,
                          entity_names: list[str], columns: int = 4, alpha: float = 0.45):
    """ALT's alignment drawn over the frames: images uint8 (L, H, W, 3), geometry (L, gh,
    gw) region index of every patch (NO_REGION: none), assigned (L, K) entity of every
    region. Each region's patches are tinted by its entity's colour (one colour per entity
    of the clip, tab20, repeating past 20), outlined, and labelled with the entity's name
    at the region's centroid: one label per region present in the frame. `columns` panels
    per row; `alpha` the tint's opacity. -> matplotlib Figure (caller saves/closes)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection
    from matplotlib.patches import Patch

    length, gh, gw = geometry.shape
    order = list(dict.fromkeys(int(e) for e in assigned.flatten()))  # first appearance
    palette = plt.get_cmap("tab20")
    colour = {e: palette(i % 20) for i, e in enumerate(order)}
    columns = min(columns, length)
    rows = (length + columns - 1) // columns
    fig, axes = plt.subplots(rows, columns, figsize=(2.2 * columns, 2.2 * rows + 0.6),
                             squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for lnum in range(length):
        ax = axes.flat[lnum]
        where = geometry[lnum].astype(np.int64)
        # Patch coordinates: patch (i, j) covers [j, j + 1] × [i, i + 1].
        ax.imshow(images[lnum], extent=(0, gw, gh, 0))
        tint = np.zeros((gh, gw, 4))
        for k in np.unique(where[where != NO_REGION]):
            tint[where == k] = (*colour[int(assigned[lnum, k])][:3], alpha)
        ax.imshow(tint, extent=(0, gw, gh, 0))
        # Outline: a segment wherever neighbouring patches lie in different regions.
        edges = [[(j + 1, i), (j + 1, i + 1)] for i in range(gh) for j in range(gw - 1)
                 if where[i, j] != where[i, j + 1]]
        edges += [[(j, i + 1), (j + 1, i + 1)] for i in range(gh - 1) for j in range(gw)
                  if where[i, j] != where[i + 1, j]]
        ax.add_collection(LineCollection(edges, colors="white", linewidths=0.6))
        for k in np.unique(where[where != NO_REGION]):
            i, j = np.nonzero(where == k)
            ax.text(j.mean() + 0.5, i.mean() + 0.5, entity_names[int(assigned[lnum, k])],
                    fontsize=4.5, ha="center", va="center", color="black",
                    bbox={"boxstyle": "round,pad=0.1", "fc": "white", "alpha": 0.6,
                          "lw": 0})
        ax.set_xlim(0, gw)
        ax.set_ylim(gh, 0)
        ax.set_title(f"frame {lnum}", fontsize=7)
    fig.legend(handles=[Patch(color=colour[e], label=entity_names[e]) for e in order],
               loc="lower center", ncol=min(len(order), 4), fontsize=6, frameon=False)
    fig.tight_layout(rect=(0, 0.12 if rows == 1 else 0.06, 1, 1))
    return fig


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


def alt_overlay(head, frames: torch.Tensor, regions: torch.Tensor, geometry: np.ndarray,
                cache: FeatureCache, video: int, entity_texts: list[str], out_dir: Path,
                name: str) -> str:
    """Draw ALT's alignment for one clip into images/`name`; the Markdown line."""
    import matplotlib.pyplot as plt

    try:
        images = clip_frames(cache, video, frames.shape[1])
    except UnreadableVideo as err:
        return f"(not drawn: {cache.paths[video]} cannot be decoded again: {err})"
    assigned = head.assignments(frames, regions)[0].numpy()  # (L, K)
    fig = region_overlay_figure(images, geometry, assigned, entity_texts)
    fig.savefig(out_dir / "images" / name, dpi=130)
    plt.close(fig)
    return f"![ALT entity per region](images/{name})"


def report(bundle_dir: str, features: str, out: str, checkpoints: dict[str, str],
           videos: int = 10) -> Path:
    out_dir = Path(out)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    bundle = load_bundle(bundle_dir)
    cache = FeatureCache.open(features)
    trained = {name: load_trained_head(path, bundle_dir) for name, path in checkpoints.items()}
    heads = {name: (t.head, t.cfg) for name, t in trained.items()}
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
    geometry = cache.get_region_geometry(chosen)
    if geometry is not None:  # the same view as the region tokens: (V, L, gh, gw)
        geometry = view_regions(geometry[:, :1], length, 1)[:, 0]
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
                                  "frame token alone."),
             "Region geometry: " + (
                 "from the cache; ALT's entity per region is drawn over the frames, which "
                 "are decoded again from the cached video paths." if geometry is not None
                 else "none in the cache (no region tokens, or extracted before region "
                      "maps were recorded), so ALT's alignment is a table only."), ""]
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
            if geometry is not None:
                lines += [alt_overlay(heads["alt"][0], frames, regions, geometry[n], cache,
                                      video, entity_texts, out_dir, f"alt-regions-{n:03d}.png"),
                          ""]
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
