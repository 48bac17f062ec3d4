"""The frame-feature cache: sharded, memory-mappable, resumable, split across ranks.

    <cache>/meta.json            what was extracted and with which weights (written first)
    <cache>/shard-00000.npy      float (n, S, T, D): n videos, S spatial crops, T frames
    <cache>/shard-00000.regions.npy  float (n, S, T, K, D): K region tokens per frame, in
                                 the same joint space (only when meta["regions"] is set)
    <cache>/shard-00000.regions_geometry.npy  uint16 (n, S, T, grid_h, grid_w): the
                                 region index (0..K−1) of every patch of every frame,
                                 65535 for a patch in no region (model.features.regions
                                 NO_REGION); absent in caches made before it was recorded
    <cache>/shard-00000.json     that shard's index: rows (path, label, labels) and failures

A shard's `.json` is written last (after its `.npy` files are renamed into place), so a
shard with an index is complete; a rerun skips complete shards. Shard i belongs to rank
i % world_size, so ranks never write the same file.
"""

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.errors import LearnerError


def shard_stem(i: int) -> str:
    return f"shard-{i:05d}"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + f".tmp-{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def regions_path(root: Path, i: int) -> Path:
    return root / f"{shard_stem(i)}.regions.npy"


def geometry_path(root: Path, i: int) -> Path:
    return root / f"{shard_stem(i)}.regions_geometry.npy"


def write_shard(root: Path, i: int, features: np.ndarray, index: dict,
                regions: Path | None = None, geometry: np.ndarray | None = None) -> None:
    """`regions`: a finished `.npy` file (written by the caller, memory-mapped because
    region shards are K + 1 times larger than frame shards), moved into place.
    `geometry`: uint16 (n, S, T, grid_h, grid_w) region maps (small: 2 bytes a patch)."""
    if regions is not None:
        os.replace(regions, regions_path(root, i))
    if geometry is not None:
        tmp = root / f"{shard_stem(i)}.regions_geometry.tmp-{os.getpid()}.npy"
        np.save(tmp, geometry.astype(np.uint16))
        os.replace(tmp, geometry_path(root, i))
    tmp = root / f"{shard_stem(i)}.tmp-{os.getpid()}.npy"
    np.save(tmp, features)
    os.replace(tmp, root / f"{shard_stem(i)}.npy")
    atomic_write_bytes(root / f"{shard_stem(i)}.json", json.dumps(index, indent=1).encode())


def shard_done(root: Path, i: int) -> bool:
    return (root / f"{shard_stem(i)}.json").is_file()


@dataclass
class FeatureCache:
    """A complete cache, opened read-only; features stay on disk (np.memmap)."""

    root: Path
    meta: dict
    shards: list[np.ndarray]  # memory-mapped (n_i, S, T, D)
    where: list[tuple[int, int]]  # video -> (shard, row)
    paths: list[str]
    labels: np.ndarray  # (V,) int64
    failed: list[dict]  # {"path", "label", "error"} of unreadable videos
    regions: list[np.ndarray] | None = None  # memory-mapped (n_i, S, T, K, D) per shard
    # Every label of each video's list line; None for caches whose index predates them
    # (model.data.multi_hot_labels then reads the list file back).
    label_sets: list[tuple[int, ...]] | None = None
    # Memory-mapped uint16 (n_i, S, T, grid_h, grid_w) region maps per shard; None when
    # any shard has none (caches made before they were recorded, or without regions).
    geometry: list[np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.where)

    @property
    def frames(self) -> int:
        return int(self.meta["cache_frames"])

    def get(self, indices) -> np.ndarray:
        """float32 (B, S, T, D) for the given video indices."""
        return np.stack([self.shards[s][r] for s, r in (self.where[i] for i in indices)]
                        ).astype(np.float32)

    def all(self) -> np.ndarray:
        return self.get(range(len(self)))

    @property
    def has_regions(self) -> bool:
        return self.regions is not None

    def get_regions(self, indices) -> np.ndarray:
        """float32 (B, S, T, K, D) region tokens for the given video indices."""
        if self.regions is None:
            raise LearnerError(f"{self.root}: this cache has no region features; extract "
                               f"with `--regions tome|mra`")
        return np.stack([self.regions[s][r] for s, r in (self.where[i] for i in indices)]
                        ).astype(np.float32)

    def get_region_geometry(self, indices) -> np.ndarray | None:
        """uint16 (B, S, T, grid_h, grid_w): the region index of every patch (65535: in
        no region) for the given videos; None for a cache that records no geometry."""
        if self.geometry is None:
            return None
        return np.stack([self.geometry[s][r] for s, r in (self.where[i] for i in indices)])

    @classmethod
    def open(cls, root: str | Path) -> "FeatureCache":
        root = Path(root)
        meta_path = root / "meta.json"
        if not meta_path.is_file():
            raise LearnerError(f"{root}: no feature cache here (no meta.json); run "
                               f"`python -m model.features.extract` first")
        meta = json.loads(meta_path.read_text())
        missing = [i for i in range(meta["n_shards"]) if not shard_done(root, i)]
        if missing:
            raise LearnerError(f"{root}: feature cache incomplete ({len(missing)} of "
                               f"{meta['n_shards']} shards missing, e.g. "
                               f"{shard_stem(missing[0])}); "
                               f"rerun the same extract command to resume")
        shards, where, paths, labels, failed = [], [], [], [], []
        label_sets: list[tuple[int, ...]] | None = []
        regions = [] if meta.get("regions") else None
        # All shards or none: a cache resumed across the change that added region maps
        # has shards without one, and a map of some videos only would mislead.
        geometry = [] if regions is not None and all(
            geometry_path(root, i).is_file() for i in range(meta["n_shards"])) else None
        for i in range(meta["n_shards"]):
            index = json.loads((root / f"{shard_stem(i)}.json").read_text())
            shards.append(np.load(root / f"{shard_stem(i)}.npy", mmap_mode="r"))
            if regions is not None:
                regions.append(np.load(regions_path(root, i), mmap_mode="r"))
            if geometry is not None:
                geometry.append(np.load(geometry_path(root, i), mmap_mode="r"))
            for row, video in enumerate(index["videos"]):
                where.append((i, row))
                paths.append(video["path"])
                labels.append(video["label"])
                if label_sets is not None and "labels" in video:
                    label_sets.append(tuple(video["labels"]))
                else:  # a cache resumed across the change can mix shards with and without
                    label_sets = None
            failed += index["failed"]
        return cls(root, meta, shards, where, paths, np.asarray(labels, dtype=np.int64), failed,
                   regions, label_sets, geometry)
