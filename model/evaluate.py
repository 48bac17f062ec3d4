"""Evaluate a trained head: supervised with test views, zero-shot on another bundle (full
and half-class), the §1h analyses, and a report with plots.

    python -m model.evaluate --checkpoint RUN/checkpoints/epoch-0010.pt --bundle B \
        --features VAL_CACHE --out REPORT_DIR [--temporal-views 2] [--analysis]
    python -m model.evaluate --checkpoint FINETUNE_RUN/checkpoints/epoch-0010.pt --bundle B \
        --list val.txt [--videos ROOT] [--frames 16 --crops 3] --out REPORT_DIR

Scores always come from a feature cache whose `weights_sha256` is the checkpoint's visual
encoder's: the bundle's frozen CLIP, or the tower a `mode: finetune` run fine-tuned. With
`--list`, the videos are first encoded with that encoder (model.features.extract with the
encoder injected) into REPORT_DIR/features, so both modes share the test views
(`--frames` decoded centres × `--crops`, then `--temporal-views`) and the report code.

Protocols (docs/methods.md §4; docs/learner.md):
- supervised: the bundle is the training bundle; scores are the softmax averaged over
  temporal views × the spatial crops cached with the features.
- zero-shot: a bundle of OTHER classes (same encoder weights): reports full-class top-1
  and the half-class protocol (mean ± std over 10 random 50 % class subsets, seeds 0–9).
"""

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from contract import state_dict_sha256
from model.bundle import Bundle
from model.checkpoint import load_trained_head
from model.data import multi_hot_labels, region_views, view_clips
from model.errors import LearnerError
from model.features.cache import FeatureCache
from model.features.extract import extract
from model.finetune import checkpoint_visual
from model.heads.text import ClassTexts
from model.metrics import (
    ambiguity_scores,
    confusion_matrix,
    hardest_fraction,
    non_uniformity_scores,
)
from model.protocols import PROTOCOLS, SCORING, choose_protocol


@torch.no_grad()
def view_scores(head, clips: np.ndarray, text: ClassTexts, batch: int = 64,
                regions: np.ndarray | None = None, scoring: str = "softmax") -> np.ndarray:
    """Scores (V, C) averaged over the views of clips (V, views, L, D), with the views'
    region tokens (V, views, L, K, D) when the cache has them; `scoring` names a SCORING."""
    head.eval()
    out = []
    for start in range(0, len(clips), batch):
        x = torch.from_numpy(clips[start:start + batch])
        b, v = x.shape[:2]
        r = None if regions is None else torch.from_numpy(
            regions[start:start + batch]).flatten(0, 1)
        logits = head(x.flatten(0, 1), text, regions=r)
        probs = SCORING[scoring](logits).reshape(b, v, -1).mean(1)
        out.append(probs.numpy())
    return np.concatenate(out)


def _plots(out: Path, confusion: np.ndarray, names: list[str], weights: dict | None,
           labels: np.ndarray, title: str) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    fig, ax = plt.subplots(figsize=(1 + 0.45 * len(names), 1 + 0.45 * len(names)))
    ax.imshow(confusion, cmap="Blues")
    ax.set_xticks(range(len(names)), names, rotation=90, fontsize=7)
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=8)
    for (i, j), n in np.ndenumerate(confusion):
        if n:
            ax.text(j, i, str(n), ha="center", va="center", fontsize=6)
    fig.tight_layout()
    fig.savefig(out / "confusion.png", dpi=120)
    plt.close(fig)
    files.append("confusion.png")
    if weights:
        # Coarse vs fine frame weights for the true class of a few videos (the paper's
        # coarse-vs-fine figure); uniform 1/L is the mean-pooling reference.
        shown = np.asarray(weights["videos"])
        fig, axes = plt.subplots(1, len(shown), figsize=(3 * len(shown), 2.6), squeeze=False)
        for ax, v in zip(axes[0], range(len(shown)), strict=True):
            for branch in ("coarse", "fine"):
                if branch in weights:
                    ax.plot(weights[branch][v], marker="o", label=branch)
            length = len(next(weights[b] for b in ("coarse", "fine") if b in weights)[v])
            ax.axhline(1 / length, color="grey", lw=0.8, ls="--", label="uniform")
            ax.set_title(names[labels[shown[v]]], fontsize=8)
            ax.set_xlabel("frame")
        axes[0][0].set_ylabel("weight")
        axes[0][0].legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / "frame_weights.png", dpi=120)
        plt.close(fig)
        files.append("frame_weights.png")
    return files


@dataclass(frozen=True)
class TestVideos:
    """Videos to encode at evaluation time with the checkpoint's own visual encoder, as
    model.features.extract does (`frames` TSN centres × `crops` spatial crops)."""

    list_file: str
    videos: str | None = None  # root of the list's relative paths (default: its folder)
    frames: int = 16
    crops: int = 1
    workers: int = 1
    device: str = "cpu"


def visual_weights_sha256(state: dict) -> str:
    """The `weights_sha256` a feature cache must record to hold this checkpoint's frame
    features: its fine-tuned visual tower's (mode finetune), else the frozen CLIP's."""
    if "visual" in state:
        return state_dict_sha256(state["visual"])
    return state["encoder"]["weights_sha256"]


def encode_test_videos(state: dict, bundle: Bundle, test: TestVideos, out: Path) -> Path:
    """Extract `test` into `out`/features with the checkpoint's visual encoder; like any
    cache, a rerun resumes and one made with other weights is refused."""
    visual = checkpoint_visual(bundle, state) if "visual" in state else None
    cache = out / "features"
    extract(str(bundle.root), test.list_file, str(cache), test.videos, frames=test.frames,
            crops=test.crops, workers=test.workers, device=test.device, progress=False,
            encoder=bundle.encoder["id"], visual=visual)
    return cache


def evaluate(checkpoint: str, bundle_dir: str, features: str | TestVideos, out: str,
             temporal_views: int = 1, analysis: bool = False, protocol: str = "auto") -> dict:
    """`features`: a feature cache, or videos to encode first (`TestVideos`); `protocol`: a
    name in model.protocols.PROTOCOLS, or `auto` (model.protocols.choose_protocol)."""
    trained = load_trained_head(checkpoint, bundle_dir)
    head, cfg, state, bundle = trained.head, trained.cfg, trained.state, trained.bundle
    protocol, why = choose_protocol(protocol, cfg.multilabel,
                                    same_classes=bundle.class_names == trained.classes)
    test_list = None
    if isinstance(features, TestVideos):
        test_list = features.list_file
        features = str(encode_test_videos(state, bundle, features, Path(out)))
    cache = FeatureCache.open(features)
    expected = visual_weights_sha256(state)
    if cache.meta["weights_sha256"] != expected:
        hint = ("; pass the videos with --list to encode them with its fine-tuned encoder"
                if "visual" in state else "")
        raise LearnerError(f"{features}: made by visual weights "
                           f"{cache.meta['weights_sha256'][:16]}…, not by {checkpoint}'s "
                           f"({expected[:16]}…){hint}")
    text = ClassTexts.from_bundle(bundle, cfg.drop_sot)
    clips = view_clips(cache.all(), cfg.frames, temporal_views)
    scores = view_scores(head, clips, text,
                         regions=region_views(cache, cfg.frames, temporal_views),
                         scoring=PROTOCOLS[protocol].scoring)
    labels = cache.labels
    names = bundle.class_names
    confusion = confusion_matrix(scores.argmax(1), labels, len(names))
    targets = multi_hot_labels(cache, len(names)) if cfg.multilabel else None
    report = {
        "protocol": protocol, "protocol_reason": why,
        "checkpoint": str(checkpoint), "bundle": str(bundle_dir), "features": str(features),
        "list": test_list, "mode": cfg.mode, "head": cfg.head, "epoch": state["epoch"],
        "encoder": {k: bundle.encoder.get(k) for k in ("id", "model", "weights", "seed")},
        # What encoded the frames: the bundle's CLIP, or the checkpoint's fine-tuned tower.
        "visual_encoder": {k: cache.meta[k] for k in ("weights", "weights_sha256",
                                                      "fine_tuned_from") if k in cache.meta},
        "views": {"temporal": temporal_views, "spatial": int(cache.meta["crops"])},
        "classes": names, "videos": len(cache), "skipped_videos": cache.failed,
        **PROTOCOLS[protocol].metrics(scores, labels, names, targets),
    }
    if analysis:
        # §1h scores use plain CLIP: class text vs raw frame embeddings.
        amb = ambiguity_scores(np.stack([c.pooled for c in bundle.classes]))
        raw = cache.all()[:, 0]
        t = text.pooled.numpy() / np.linalg.norm(text.pooled.numpy(), axis=1, keepdims=True)
        frame_pred = np.einsum("vtd,cd->vtc", raw / np.linalg.norm(raw, axis=-1, keepdims=True),
                               t).argmax(-1)
        non = non_uniformity_scores(frame_pred)
        correct = scores.argmax(1) == labels
        ambi_classes = hardest_fraction(amb)
        ambi_videos = np.isin(labels, ambi_classes)
        non_videos = hardest_fraction(non)
        report["analysis"] = {
            "ambiguity_by_class": {n: float(a) for n, a in zip(names, amb, strict=True)},
            "ambi_set_classes": [names[c] for c in ambi_classes],
            "ambi_set_top1": float(correct[ambi_videos].mean()) if ambi_videos.any() else None,
            "non_set_top1": float(correct[non_videos].mean()),
            "non_uniformity_mean": float(non.mean()),
        }
    weights = None
    if hasattr(head, "frame_weights"):
        shown = [int(np.flatnonzero(labels == c)[0]) for c in np.unique(labels)[:4]]
        x = torch.from_numpy(clips[shown, 0])
        with torch.no_grad():
            _, w = head.frame_weights(x, text)
        weights = {"videos": shown} | {b: a[np.arange(len(shown)), labels[shown]].tolist()
                                       for b, a in w.items()}
        report["frame_weights"] = weights
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    title = (f"{cfg.head}: mAP {report['mAP']:.3f}" if cfg.multilabel
             else f"{cfg.head}: top-1 {report['top1']:.3f}")
    if bundle.random_weights:
        title += " (random CLIP weights)"
    report["plots"] = _plots(out, confusion, names, weights, labels, title)
    # Per-video scores (rows: the cache's videos, columns: `classes`) let any other
    # protocol or metric be recomputed without rerunning the model.
    np.save(out / "scores.npy", scores.astype(np.float32))
    report["scores"] = "scores.npy"
    (out / "report.json").write_text(json.dumps(report, indent=1))
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Evaluate a trained head.")
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--bundle", required=True, help="training bundle (supervised) or "
                                                        "another dataset's (zero-shot)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--features", help="feature cache of the test list, extracted with "
                                            "the checkpoint's visual encoder")
    source.add_argument("--list", help="test list file: encode its videos with the "
                                       "checkpoint's visual encoder (fine-tuned for mode "
                                       "finetune) into OUT/features first")
    parser.add_argument("--videos", help="--list: root of its relative paths "
                                         "(default: the list file's folder)")
    parser.add_argument("--frames", type=int, default=16,
                        help="--list: frames decoded per video (TSN centres), as extract's "
                             "--frames; the temporal views sample the head's L among them")
    parser.add_argument("--crops", type=int, default=1, help="--list: spatial crops (1 or 3)")
    parser.add_argument("--workers", type=int, default=1, help="--list: decoding processes")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                        help="--list: where the visual encoder runs")
    parser.add_argument("--out", required=True)
    parser.add_argument("--temporal-views", type=int, default=1)
    parser.add_argument("--analysis", action="store_true",
                        help="the analysis scores of docs/methods.md §1h")
    parser.add_argument("--protocol", default="auto",
                        help="supervised, zero-shot, multi-label, multi-label zero-shot, or "
                             "auto: zero-shot when the bundle's classes are not the "
                             "checkpoint's (model.protocols)")
    args = parser.parse_args(argv)
    source = args.features or TestVideos(args.list, args.videos, args.frames, args.crops,
                                         args.workers, args.device)
    try:
        report = evaluate(args.checkpoint, args.bundle, source, args.out,
                          args.temporal_views, args.analysis, args.protocol)
    except LearnerError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    keys = ("protocol", "head", "top1", "top5", "mean_class_accuracy", "half_class_top1",
            "mAP")
    print(json.dumps({k: report[k] for k in keys if k in report}))


if __name__ == "__main__":
    main()
