"""Extract frame features once with the frozen visual encoder of the bundle's CLIP.

    python -m model.features.extract --bundle B --list train.txt [--videos ROOT] --out CACHE
    torchrun --nproc_per_node=N -m model.features.extract …      # shards split over ranks
    python -m model.features.extract … --regions tome --r 8 [--tokens K]   # + ALT regions
    python -m model.features.extract … --regions mra --R 4                 # + ASU regions

With `--regions`, every shard also gets `shard-NNNNN.regions.npy` (n, S, T, K, D): K region
tokens per frame in the joint space (model/features/regions.py, docs/regions.md), and the
frame features are the CLS of that same forward pass; `shard-NNNNN.regions_geometry.npy`
(n, S, T, grid_h, grid_w) uint16 records which region every patch belongs to.

Decoding (PyAV, in DataLoader worker processes) overlaps with encoding in the main
process. Unreadable videos are recorded in their shard's index and skipped.
"""

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from model.bundle import load_bundle
from model.clip import clip_for_encoder_entry, state_dict_sha256
from model.errors import LearnerError
from model.features.cache import atomic_write_bytes, shard_done, shard_stem, write_shard
from model.features.regions import (
    RegionConfig,
    encode_regions_with_geometry,
    patch_grid,
    region_config,
    region_count,
)
from model.video.decode import UnreadableVideo, clip_preprocess, read_frames
from model.video.lists import VideoItem, read_list


class _Frames(Dataset):
    def __init__(self, items: list[VideoItem], frames: int, crops: int, image_size: int,
                 mean, std):
        self.items, self.frames, self.crops = items, frames, crops
        self.image_size, self.mean, self.std = image_size, mean, std

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int):
        t0 = time.perf_counter()
        try:
            raw = read_frames(self.items[i], self.frames)
        except UnreadableVideo as err:
            return i, None, str(err), time.perf_counter() - t0
        x = clip_preprocess(raw, self.image_size, self.mean, self.std, self.crops)
        return i, x, None, time.perf_counter() - t0


def _first(batch):
    return batch[0]


def cache_bytes_per_video(crops: int, frames: int, dim: int, tokens: int, dtype: str,
                          patches: int = 0) -> int:
    """Bytes one video takes in the cache: (1 CLS + `tokens` regions) per frame and crop,
    plus a uint16 region map of `patches` patches per frame and crop (with regions)."""
    return crops * frames * ((1 + tokens) * dim * np.dtype(dtype).itemsize + 2 * patches)


def _open_regions(path: Path, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    # On disk, not in memory: a shard of 256 ViT-B videos with K = 100 is ~0.8 GB (fp32).
    return np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape)


def _keep_rows(path: Path, rows: np.ndarray, dtype: str) -> Path:
    """Drop the rows of unreadable videos from a region shard, one row in memory at a time."""
    whole = np.load(path, mmap_mode="r")
    if len(rows) == len(whole):
        return path
    kept_path = path.with_name(path.name.replace(".npy", ".kept.npy"))
    kept = _open_regions(kept_path, (len(rows), *whole.shape[1:]), dtype)
    for j, r in enumerate(rows):
        kept[j] = whole[r]
    kept.flush()
    del kept, whole
    path.unlink()
    return kept_path


def _dist() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def extract(bundle_dir: str, list_file: str, out: str, videos: str | None = None,
            frames: int = 16, crops: int = 1, shard_size: int = 256, batch_frames: int = 256,
            workers: int = 1, checkpoint: str | None = None, device: str = "cpu",
            dtype: str = "float32", progress: bool = True,
            regions: RegionConfig | None = None, encoder: str | None = None,
            visual: torch.nn.Module | None = None) -> dict:
    """Fill the cache at `out`; returns timing stats (decode s, encode s, wall s) and the
    cache's bytes per video. `regions` adds region tokens (model/features/regions.py).

    `encoder` picks the bundle's encoder entry (default: its first open_clip one).
    `visual` replaces that entry's frozen visual tower with another of the same
    architecture, e.g. a `mode: finetune` checkpoint's (model.evaluate): the cache then
    records the hash of the weights that really made the features, the visual tower's
    state_dict, as `weights_sha256`, and the bundle's as `fine_tuned_from`, so no
    frozen-encoder consumer (training in features mode) mistakes it for the bundle's."""
    bundle = load_bundle(bundle_dir, encoder)
    items = read_list(list_file, videos, num_classes=len(bundle.classes))
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    rank, world = _dist()
    meta = {
        "encoder": bundle.encoder["id"],
        "model": bundle.encoder["model"],
        "weights": bundle.encoder.get("weights"),
        "weights_sha256": bundle.encoder["weights_sha256"],
        "list_file": str(list_file),
        "list_sha256": hashlib.sha256(Path(list_file).read_bytes()).hexdigest(),
        "n_videos": len(items),
        "cache_frames": frames,
        "crops": crops,
        "shard_size": shard_size,
        "n_shards": (len(items) + shard_size - 1) // shard_size,
        "dtype": dtype,
    }
    if visual is None:
        visual = clip_for_encoder_entry(bundle.encoder, checkpoint).visual
    else:
        meta |= {"weights": "fine-tuned",
                 "weights_sha256": state_dict_sha256(visual.state_dict()),
                 "fine_tuned_from": bundle.encoder["weights_sha256"]}
    visual = visual.to(device).eval()
    tokens = patches = 0
    if regions is not None:
        tokens = region_count(visual, regions)
        patches = patch_grid(visual) ** 2
        # Only when set, so caches made before region features still resume.
        meta["regions"] = regions.regions_meta(tokens)
        meta["regions_options"] = regions.options()
    per_video = cache_bytes_per_video(crops, frames, bundle.dim, tokens, dtype, patches)
    if progress:
        print(f"cache: {crops} crop(s) x {frames} frames x (1 CLS + {tokens} regions) x "
              f"{bundle.dim} x {dtype}"
              + (f" + {patches}-patch region maps" if patches else "")
              + f" = {per_video / 1e6:.3f} MB per video, "
              f"{per_video * len(items) / 1e9:.3f} GB for {len(items)} videos", flush=True)
    meta_path = root / "meta.json"
    if meta_path.is_file():
        old = json.loads(meta_path.read_text())
        if old != meta:
            changed = sorted(k for k in meta if old.get(k) != meta[k])
            raise LearnerError(f"{root}: an existing cache was made with different settings "
                               f"({', '.join(changed)}); use another --out or delete it")
    elif rank == 0:
        atomic_write_bytes(meta_path, json.dumps(meta, indent=1).encode())

    pre = visual.preprocess_cfg
    image_size = pre["size"][0] if isinstance(pre["size"], tuple | list) else pre["size"]
    stats = {"videos": 0, "frames": 0, "failed": 0, "decode_s": 0.0, "encode_s": 0.0,
             "wait_s": 0.0, "bytes_per_video": per_video}
    wall = time.perf_counter()
    mine = [i for i in range(meta["n_shards"]) if i % world == rank and not shard_done(root, i)]
    for shard in tqdm(mine, desc=f"extract rank {rank}", disable=not progress):
        chunk = items[shard * shard_size:(shard + 1) * shard_size]
        loader = DataLoader(_Frames(chunk, frames, crops, image_size, pre["mean"], pre["std"]),
                            batch_size=1, collate_fn=_first, num_workers=workers,
                            prefetch_factor=4 if workers else None)
        feats = np.zeros((len(chunk), crops, frames, bundle.dim), dtype=dtype)
        ok = np.zeros(len(chunk), dtype=bool)
        failed = []
        pending: list[tuple[int, torch.Tensor]] = []
        regions_tmp = root / f"{shard_stem(shard)}.regions.tmp-{os.getpid()}.npy"
        region_feats = None if regions is None else _open_regions(
            regions_tmp, (len(chunk), crops, frames, tokens, bundle.dim), dtype)
        # In memory: 2 bytes a patch (256 ViT-B/16 videos x 16 frames: 1.6 MB).
        geometry = None if regions is None else np.zeros(
            (len(chunk), crops, frames, *visual.grid_size), dtype=np.uint16)

        def encode(pending=pending, feats=feats, ok=ok, region_feats=region_feats,
                   geometry=geometry):
            if not pending:
                return
            t0 = time.perf_counter()
            x = torch.cat([p[1].flatten(0, 1) for p in pending]).to(device)
            with torch.inference_mode():
                if regions is None:
                    y, z = visual(x), None
                else:
                    y, z, where = encode_regions_with_geometry(visual, x, regions)
                    z = z.float().cpu().numpy().reshape(len(pending), crops, frames, tokens, -1)
                    where = where.cpu().numpy().reshape(len(pending), crops, frames,
                                                        *where.shape[1:])
                y = y.float().cpu().numpy()
            y = y.reshape(len(pending), crops, frames, -1)
            for k, (row, _) in enumerate(pending):
                feats[row], ok[row] = y[k], True
                if z is not None:
                    region_feats[row], geometry[row] = z[k], where[k]
            stats["encode_s"] += time.perf_counter() - t0
            pending.clear()

        t_wait = time.perf_counter()
        for row, x, error, decode_s in loader:
            stats["wait_s"] += time.perf_counter() - t_wait
            stats["decode_s"] += decode_s
            if x is None:
                failed.append({"path": chunk[row].path, "label": chunk[row].label,
                               "error": error})
            else:
                pending.append((row, x))
                stats["frames"] += crops * frames
                if len(pending) * crops * frames >= batch_frames:
                    encode()
            t_wait = time.perf_counter()
        encode()
        keep = np.flatnonzero(ok)
        # `labels`: every label of the line (multi-label lists), so training needs no list.
        index = {"videos": [{"path": chunk[r].path, "label": chunk[r].label,
                             "labels": list(chunk[r].label_set)} for r in keep],
                 "failed": failed}
        region_file = None
        if region_feats is not None:
            region_feats.flush()
            del encode, region_feats  # release the map before the file is moved
            region_file = _keep_rows(regions_tmp, keep, dtype)
        write_shard(root, shard, feats[keep], index, region_file,
                    None if geometry is None else geometry[keep])
        stats["videos"] += len(keep)
        stats["failed"] += len(failed)
    stats["wall_s"] = time.perf_counter() - wall
    return stats


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Extract frozen CLIP frame features.")
    parser.add_argument("--bundle", required=True)
    parser.add_argument("--list", required=True, help="MMAction2-style list file")
    parser.add_argument("--videos", help="root the list's paths are relative to "
                                         "(default: the list file's folder)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--frames", type=int, default=16,
                        help="frames cached per video (TSN centres); training samples "
                             "its L frames among these")
    parser.add_argument("--crops", type=int, default=1, help="spatial crops (1 or 3)")
    parser.add_argument("--shard-size", type=int, default=256)
    parser.add_argument("--workers", type=int, default=1, help="decoding processes")
    parser.add_argument("--checkpoint", help="local open_clip checkpoint instead of the "
                                             "manifest's `pretrained`")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--regions", choices=["tome", "mra"],
                        help="also cache region tokens: ToMe-merged (ALT) or multi-region "
                             "attention (ASU); see docs/regions.md")
    parser.add_argument("--r", type=int, help="tome: merges per block (default 8)")
    parser.add_argument("--tokens", type=int, help="tome: region tokens kept per frame "
                                                   "(default: all N - L*r)")
    parser.add_argument("--R", type=int, help="mra: region tokens, a square number "
                                              "(default 4: a 2x2 grid)")
    args = parser.parse_args(argv)
    distributed = int(os.environ.get("WORLD_SIZE", 1)) > 1
    if distributed:
        torch.distributed.init_process_group("nccl" if args.device == "cuda" else "gloo")
        if args.device == "cuda":
            torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
    try:
        if args.regions is None and (args.r, args.R, args.tokens) != (None, None, None):
            raise LearnerError("--r, --R and --tokens need --regions tome|mra")
        regions = None if args.regions is None else region_config(
            args.regions, args.r, args.R, args.tokens)
        stats = extract(args.bundle, args.list, args.out, args.videos, args.frames,
                        args.crops, args.shard_size, workers=args.workers,
                        checkpoint=args.checkpoint, device=args.device, regions=regions)
    except LearnerError as err:
        raise SystemExit(f"error: {err}") from None
    if distributed:
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    # One write per rank: print() writes the text and its newline separately, and under
    # torchrun (unbuffered output) two ranks' summaries could share a line.
    sys.stdout.write(json.dumps(stats) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
