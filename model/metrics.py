"""Evaluation arithmetic as pure functions of score arrays (docs/methods.md §1h, §4)."""

import numpy as np


def topk_accuracy(scores: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Fraction of videos whose label is among the k highest scores (V, C)."""
    k = min(k, scores.shape[1])
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return float((top == labels[:, None]).any(1).mean())


def topk_hit_rate(scores: np.ndarray, targets: np.ndarray, k: int) -> float:
    """Fraction of videos with at least one labelled class (multi-hot targets (V, C))
    among the k highest scores; equals `topk_accuracy` for one label per video."""
    k = min(k, scores.shape[1])
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return float(np.take_along_axis(targets, top, axis=1).any(1).mean())


def confusion_matrix(predicted: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """(C, C) counts, rows = true class, columns = predicted class."""
    out = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(out, (labels, predicted), 1)
    return out


def per_class_accuracy(confusion: np.ndarray) -> np.ndarray:
    """Recall per class; NaN for a class with no test videos."""
    totals = confusion.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, np.diag(confusion) / totals, np.nan)


def average_precision(scores: np.ndarray, targets: np.ndarray) -> float:
    """AP of one class: the mean of precision at the rank of each positive (Charades'
    evaluation); NaN when the class has no positive."""
    order = np.argsort(-scores, kind="stable")
    hits = targets[order].astype(bool)
    if not hits.any():
        return float("nan")
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float(precision[hits].mean())


def mean_average_precision(scores: np.ndarray, targets: np.ndarray) -> float:
    """Multi-label mAP over classes with at least one positive: scores, targets (V, C)."""
    aps = [average_precision(scores[:, c], targets[:, c]) for c in range(scores.shape[1])]
    return float(np.nanmean(aps))


def half_class_subsets(num_classes: int, seeds=range(10)) -> list[np.ndarray]:
    """The zero-shot half-class protocol: 10 random 50 % class subsets, seeds 0–9."""
    return [np.sort(np.random.default_rng(s).choice(num_classes, num_classes // 2,
                                                    replace=False)) for s in seeds]


def ambiguity_scores(class_embeddings: np.ndarray, neighbours: int = 10) -> np.ndarray:
    """docs/methods.md §1h: per class, the mean normalised text similarity (cos + 1) / 2 to its
    `neighbours` most similar other classes (all others when there are fewer)."""
    t = class_embeddings / np.linalg.norm(class_embeddings, axis=1, keepdims=True)
    sims = (t @ t.T + 1) / 2
    np.fill_diagonal(sims, -np.inf)
    k = min(neighbours, len(t) - 1)
    return np.sort(sims, axis=1)[:, ::-1][:, :k].mean(1)


def non_uniformity_scores(frame_predictions: np.ndarray) -> np.ndarray:
    """docs/methods.md §1h: 1 minus the mean agreement between per-frame zero-shot predictions
    (V, L) class ids; agreement = the fraction of ordered frame pairs l ≠ l' that agree."""
    same = frame_predictions[:, :, None] == frame_predictions[:, None, :]
    n = frame_predictions.shape[1]
    if n < 2:
        return np.zeros(len(frame_predictions))
    agreement = (same.sum((1, 2)) - n) / (n * (n - 1))
    return 1 - agreement


def hardest_fraction(scores: np.ndarray, fraction: float = 0.1) -> np.ndarray:
    """Indices of the `fraction` highest scores (the paper's "Ambi" / "Non" sets)."""
    k = max(1, round(len(scores) * fraction))
    return np.argsort(-scores, kind="stable")[:k]
