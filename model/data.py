"""Batches of cached frame features for training and evaluation.

Every random choice (epoch order, TSN offsets, spatial crop) comes from a generator
seeded by (seed, epoch) or (seed, epoch, video), never from global state: an epoch is
the same whether it runs in one process or on several ranks, from the start or after
a resume.
"""

from pathlib import Path

import numpy as np
import torch

from contract import file_sha256
from model.errors import LearnerError
from model.features.cache import FeatureCache
from model.video.lists import read_list
from model.video.sampling import segment_indices, train_offsets, view_offsets


def multi_hot_labels(cache: FeatureCache, num_classes: int) -> np.ndarray:
    """(V, C) float32 multi-hot targets of the cached videos, every label of each video's
    list line, as the cache's index stores them (`labels`).

    Caches extracted before the index stored them keep one label per video (the first),
    so the sets come from the list file the cache was extracted from (`meta.list_file`,
    checked against `meta.list_sha256`). Relative paths were resolved against a root the
    meta does not record (`--videos`, or the list's folder), so the root is recovered as
    the one that maps every list line onto a cached or failed video."""
    if cache.label_sets is not None:
        targets = np.zeros((len(cache), num_classes), dtype=np.float32)
        for row, labels in enumerate(cache.label_sets):
            targets[row, list(labels)] = 1
        return targets
    list_file = Path(cache.meta["list_file"])
    if not list_file.is_file() or file_sha256(list_file) != cache.meta["list_sha256"]:
        raise LearnerError(f"{cache.root}: multi-label targets are read from the list file "
                           f"it was extracted from, {list_file}, which is missing or changed")
    items = read_list(list_file, Path("."), num_classes)  # paths as written in the list
    known = set(cache.paths) | {f["path"] for f in cache.failed}
    relative = next((it.path for it in items if not Path(it.path).is_absolute()), None)
    roots = {"."} if relative is None else {
        p[: -len(relative)] for p in known if p == relative or p.endswith("/" + relative)}
    for root in roots:
        by_path = {str(Path(root) / it.path): it.label_set for it in items}
        if all(p in by_path for p in cache.paths):
            targets = np.zeros((len(cache), num_classes), dtype=np.float32)
            for row, path in enumerate(cache.paths):
                targets[row, list(by_path[path])] = 1
            return targets
    raise LearnerError(f"{cache.root}: its videos do not match the lines of {list_file}")


def class_targets(cache: FeatureCache, num_classes: int, multilabel: bool) -> np.ndarray:
    """(V, C) float32 targets: one-hot of the cached label, or multi-hot (`multi_hot_labels`)."""
    if multilabel:
        return multi_hot_labels(cache, num_classes)
    return np.eye(num_classes, dtype=np.float32)[cache.labels]


def few_shot_indices(labels: np.ndarray, k: int, seed: int) -> np.ndarray:
    """K videos per class (all of a class's videos when it has fewer), sampled with `seed`."""
    rng = np.random.default_rng(seed)
    chosen = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        chosen.append(rng.choice(members, size=min(k, len(members)), replace=False))
    return np.sort(np.concatenate(chosen))


def epoch_batches(n: int, batch_size: int, seed: int, epoch: int) -> list[np.ndarray]:
    """This epoch's batches of positions 0..n-1; the last partial batch is dropped so
    every step (and every rank's share) has the same size."""
    order = np.random.default_rng([seed, epoch]).permutation(n)
    size = min(batch_size, n)
    return [order[i:i + size] for i in range(0, n - size + 1, size)]


def train_clip(features: np.ndarray, frames: int, seed: int, epoch: int,
               video: int) -> np.ndarray:
    """(L, D) from one video's cached (S, T, D): TSN offsets and a spatial crop drawn
    from the video's own generator."""
    rng = np.random.default_rng([seed, epoch, video, 1])
    crop = int(rng.integers(features.shape[0]))
    idx = segment_indices(features.shape[1], frames, train_offsets(frames, rng))
    return features[crop, idx]


def train_batch(cache: FeatureCache, videos: np.ndarray, frames: int, seed: int,
                epoch: int) -> tuple[torch.Tensor, torch.Tensor]:
    x = cache.get(videos)
    clips = np.stack([train_clip(x[i], frames, seed, epoch, int(v))
                      for i, v in enumerate(videos)])
    return torch.from_numpy(clips), torch.from_numpy(cache.labels[videos])


def train_regions(cache: FeatureCache, videos: np.ndarray, frames: int, seed: int,
                  epoch: int) -> torch.Tensor:
    """Region tokens (B, L, K, D) of the same crop and frames `train_batch` samples:
    `train_clip` indexes only the (S, T) axes, so its generator gives both the same draw."""
    x = cache.get_regions(videos)
    return torch.from_numpy(np.stack([train_clip(x[i], frames, seed, epoch, int(v))
                                      for i, v in enumerate(videos)]))


def view_clips(features: np.ndarray, frames: int, temporal_views: int) -> np.ndarray:
    """All test views of cached (V, S, T, D): (V, temporal_views × S, L, D)."""
    offsets = view_offsets(frames, temporal_views)
    idx = np.stack([segment_indices(features.shape[2], frames, o) for o in offsets])
    clips = features[:, :, idx]  # (V, S, views, L, D)
    return clips.reshape(features.shape[0], -1, frames, features.shape[-1])


def view_regions(regions: np.ndarray, frames: int, temporal_views: int) -> np.ndarray:
    """`view_clips` for cached region tokens (V, S, T, K, D): (V, temporal_views × S, L, K, D),
    views in the same order."""
    offsets = view_offsets(frames, temporal_views)
    idx = np.stack([segment_indices(regions.shape[2], frames, o) for o in offsets])
    clips = regions[:, :, idx]  # (V, S, views, L, K, D)
    return clips.reshape(regions.shape[0], -1, frames, *regions.shape[-2:])


def region_views(cache: FeatureCache, frames: int, temporal_views: int,
                 crops: int | None = None) -> np.ndarray | None:
    """All test views of the cache's region tokens, (V, views, L, K, D), the twin of
    `view_clips(cache.all()[:, :crops], …)`; None for a cache without region tokens."""
    if not cache.has_regions:
        return None
    return view_regions(cache.get_regions(range(len(cache)))[:, :crops], frames,
                        temporal_views)
