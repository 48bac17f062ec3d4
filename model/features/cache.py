"""The frame-feature cache: sharded, memory-mappable, resumable, split across ranks.

    <cache>/meta.json            what was extracted and with which weights (written first)
    <cache>/shard-00000.npy      float (n, S, T, D): n videos, S spatial crops, T frames
    <cache>/shard-00000.regions.npy  float (n, S, T, K, D): K region tokens per frame, in
                                 the same joint space (only when meta["regions"] is set)
    <cache>/shard-00000.json     that shard's index: rows (path, label, row) and failures

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


def write_shard(root: Path, i: int, features: np.ndarray, index: dict,
                regions: Path | None = None) -> None:
    """`regions`: a finished `.npy` file (written by the caller, memory-mapped because
    region shards are K + 1 times larger than frame shards), moved into place."""
    if regions is not None:
        os.replace(regions, regions_path(root, i))
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
        regions = [] if meta.get("regions") else None
        for i in range(meta["n_shards"]):
            index = json.loads((root / f"{shard_stem(i)}.json").read_text())
            shards.append(np.load(root / f"{shard_stem(i)}.npy", mmap_mode="r"))
            if regions is not None:
                regions.append(np.load(regions_path(root, i), mmap_mode="r"))
            for row, video in enumerate(index["videos"]):
                where.append((i, row))
                paths.append(video["path"])
                labels.append(video["label"])
            failed += index["failed"]
        return cls(root, meta, shards, where, paths, np.asarray(labels, dtype=np.int64), failed,
                   regions)
