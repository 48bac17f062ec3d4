"""Evaluation protocols (docs/methods.md §4) as a registry: each is a name, how a head's
logits become per-class scores, and the metrics computed from those scores. A new
protocol is one function plus `@register_protocol`.

- supervised: the training classes; top-1/top-5, mean class accuracy, per-class accuracy.
- zero-shot: classes never trained on; the same full-class numbers plus the half-class
  protocol (mean ± std of top-1 over 10 random 50 % class subsets, seeds 0–9).
- multi-label (and multi-label zero-shot): Charades' mAP over per-class sigmoid scores.
Few-shot is a training protocol (`few_shot_k` videos per class); its runs are evaluated
with one of these.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from model.errors import LearnerError
from model.metrics import (
    average_precision,
    confusion_matrix,
    half_class_subsets,
    mean_average_precision,
    per_class_accuracy,
    topk_accuracy,
    topk_hit_rate,
)

# Logits -> per-class scores: one class per video (softmax over classes), or each class
# present or not (sigmoid per class, for multi-label mAP).
SCORING: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "softmax": lambda logits: logits.softmax(-1),
    "sigmoid": torch.sigmoid,
}

Metrics = Callable[[np.ndarray, np.ndarray, list[str], np.ndarray | None], dict]


@dataclass(frozen=True)
class Protocol:
    name: str
    scoring: str  # a key of SCORING
    metrics: Metrics  # (scores (V, C), labels (V,), class names, multi-hot targets) -> dict
    description: str


PROTOCOLS: dict[str, Protocol] = {}


def register_protocol(name: str, scoring: str, description: str):
    def add(metrics: Metrics) -> Metrics:
        PROTOCOLS[name] = Protocol(name, scoring, metrics, description)
        return metrics
    return add


def half_class_top1(scores: np.ndarray, labels: np.ndarray) -> dict:
    """Top-1 among a random half of the classes, on those classes' videos, for seeds 0–9."""
    per_seed = []
    for subset in half_class_subsets(scores.shape[1]):
        keep = np.isin(labels, subset)
        remap = {c: i for i, c in enumerate(subset)}
        sub_labels = np.array([remap[c] for c in labels[keep]])
        per_seed.append(topk_accuracy(scores[keep][:, subset], sub_labels, 1))
    return {"mean": float(np.mean(per_seed)), "std": float(np.std(per_seed)),
            "per_seed": per_seed}


@register_protocol("supervised", "softmax", "the training classes: top-1/top-5, mean class "
                   "accuracy, per-class accuracy")
def supervised(scores: np.ndarray, labels: np.ndarray, names: list[str],
               targets: np.ndarray | None = None) -> dict:
    per_class = per_class_accuracy(confusion_matrix(scores.argmax(1), labels, len(names)))
    return {"top1": topk_accuracy(scores, labels, 1), "top5": topk_accuracy(scores, labels, 5),
            "mean_class_accuracy": float(np.nanmean(per_class)),
            "per_class_accuracy": {n: (None if np.isnan(a) else float(a))
                                   for n, a in zip(names, per_class, strict=True)}}


@register_protocol("zero-shot", "softmax", "classes never trained on: full-class top-1/top-5 "
                   "and half-class top-1 (mean ± std over 10 random 50 % subsets, seeds 0–9)")
def zero_shot(scores: np.ndarray, labels: np.ndarray, names: list[str],
              targets: np.ndarray | None = None) -> dict:
    return supervised(scores, labels, names) | {"half_class_top1": half_class_top1(scores,
                                                                                  labels)}


@register_protocol("multi-label", "sigmoid", "several classes per video (Charades): mAP over "
                   "per-class sigmoid scores; top-k counts a hit when any labelled class is "
                   "among the k best")
def multi_label(scores: np.ndarray, labels: np.ndarray, names: list[str],
                targets: np.ndarray | None = None) -> dict:
    if targets is None:
        raise LearnerError("the multi-label protocol needs every video's label set")
    aps = [average_precision(scores[:, c], targets[:, c]) for c in range(len(names))]
    return {"mAP": mean_average_precision(scores, targets),
            "per_class_ap": {n: (None if np.isnan(a) else a)
                             for n, a in zip(names, aps, strict=True)},
            "top1": topk_hit_rate(scores, targets, 1), "top5": topk_hit_rate(scores, targets, 5)}


register_protocol("multi-label zero-shot", "sigmoid",
                  "multi-label on classes never trained on")(multi_label)


def choose_protocol(requested: str, multilabel: bool, same_classes: bool) -> tuple[str, str]:
    """The protocol to run and why. `auto`: multi-label for a multi-label run; zero-shot when
    the bundle's classes are not the ones the head was trained on; else supervised."""
    if requested == "auto":
        base = "zero-shot" if not same_classes else "supervised"
        reason = ("the bundle's classes differ from the checkpoint's" if not same_classes
                  else "the bundle's classes are the checkpoint's")
        if multilabel:
            return ("multi-label" + (" zero-shot" if not same_classes else ""),
                    f"a multi-label run; {reason}")
        return base, reason
    if requested not in PROTOCOLS:
        raise LearnerError(f"unknown protocol {requested!r}; known: auto, {', '.join(PROTOCOLS)}")
    if requested.startswith("supervised") and not same_classes:
        raise LearnerError("protocol supervised needs the checkpoint's own classes, but the "
                           "bundle has others; use --protocol zero-shot")
    if requested.startswith("multi-label") != multilabel:
        raise LearnerError(f"protocol {requested} does not fit a "
                           f"{'multi-label' if multilabel else 'single-label'} run")
    return requested, "asked for"
