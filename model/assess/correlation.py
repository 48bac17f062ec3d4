"""Correlation of TPP with zero-shot accuracy (pure numpy): is a higher-TPP set a better one?

The papers report r² = 0.79 between dataset TPP and top-1 over 11 sub-text groups; here it
is measured three ways on whatever features the user has (docs/assess.md):
across sources (a source's mean TPP vs its top-1), across classes within a source (a
class's TPP vs its accuracy gain over the class name) and within classes (the sets of one
class from different sources, demeaned per class and pooled).
"""

import numpy as np


def ranks(x: np.ndarray) -> np.ndarray:
    """Ranks with ties averaged (as scipy.stats.rankdata's default)."""
    order = np.argsort(x, kind="mergesort")
    r = np.empty(len(x), dtype=np.float64)
    r[order] = np.arange(len(x), dtype=np.float64)
    for value in np.unique(x):
        tied = x == value
        r[tied] = r[tied].mean()
    return r


def pearson(x: np.ndarray, y: np.ndarray) -> float | None:
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if len(x) < 3 or np.std(x) == 0 or np.std(y) == 0:
        return None
    return float(np.corrcoef(x, y)[0, 1])


BOOTSTRAP_RESAMPLES = 1000


def bootstrap_r2(x: np.ndarray, y: np.ndarray, resamples: int = BOOTSTRAP_RESAMPLES,
                 seed: int = 0) -> list[float] | None:
    """95 % percentile interval of r² over pairs resampled with replacement; resamples
    where r is undefined (a constant side) are dropped. None for n < 3 or when fewer than
    half the resamples are usable: with a handful of sources the interval is the point of
    reporting it — r² over 11 groups is uncertain."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if len(x) < 3:
        return None
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(resamples):
        idx = rng.integers(0, len(x), len(x))
        r = pearson(x[idx], y[idx])
        if r is not None:
            values.append(r * r)
    if len(values) < resamples / 2:
        return None
    lo, hi = np.percentile(values, [2.5, 97.5])
    return [float(lo), float(hi)]


def correlation(x, y) -> dict:
    """Pearson r, r² with its bootstrap 95 % interval, and Spearman ρ of paired values;
    None where undefined (n < 3 or a constant side)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    r = pearson(x, y)
    rho = pearson(ranks(x), ranks(y)) if len(x) >= 3 else None
    return {"n": len(x), "pearson_r": r, "r2": None if r is None else r * r,
            "r2_ci95": None if r is None else bootstrap_r2(x, y),
            "spearman_rho": rho}


def within_class(points: list[tuple[int, float, float]]) -> dict:
    """(class, tpp, accuracy) points; each class with >= 2 points is demeaned on both
    axes, then all are pooled: does the higher-TPP set of a class score higher on it?"""
    by_class: dict[int, list[tuple[float, float]]] = {}
    for c, t, a in points:
        by_class.setdefault(c, []).append((t, a))
    xs, ys = [], []
    for pairs in by_class.values():
        if len(pairs) < 2:
            continue
        t, a = np.array(pairs).T
        xs += list(t - t.mean())
        ys += list(a - a.mean())
    return correlation(xs, ys) | {"classes": sum(len(p) >= 2 for p in by_class.values())}
