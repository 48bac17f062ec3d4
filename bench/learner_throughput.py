"""Learner throughput (JSON): feature extraction frames/s split into decode and encode
with the overlap achieved, and head training clips/s on cached features against the
time to merely stream the same batches out of the cache (the bound): their ratio; and
`mode: finetune` clips/s (decoding + visual encoder forward/backward + head).

    python bench/learner_throughput.py --bundle B [--per-class 8] \
        [--out bench/results/learner_throughput.json]

The bundle must be the synthetic one (its CLIP encodes the frames); clips are generated
into a temporary folder. Runs on CPU everywhere; on a GPU it records the GPU model.
"""

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import torch

from model.config import TrainConfig
from model.data import epoch_batches, train_batch
from model.features.cache import FeatureCache
from model.features.extract import extract
from model.synthetic import generate
from model.train import train


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo (Linux); platform.processor() is often empty."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def stream_seconds(cache: FeatureCache, batch: int, frames: int, epochs: int) -> float:
    t0 = time.perf_counter()
    for epoch in range(epochs):
        for positions in epoch_batches(len(cache), batch, 0, epoch):
            train_batch(cache, positions, frames, 0, epoch)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", required=True)
    parser.add_argument("--per-class", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--out", default="bench/results/learner_throughput.json")
    args = parser.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    result = {"device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
              "cpu": cpu_name(), "cpu_count": os.cpu_count(),
              "torch_threads": torch.get_num_threads()}
    with tempfile.TemporaryDirectory() as tmp:
        lists = generate(Path(tmp) / "clips", args.per_class, 0, corrupt=0)
        stats = extract(args.bundle, str(lists["train"]), str(Path(tmp) / "cache"),
                        frames=16, workers=1, device=device, progress=False)
        busy = stats["decode_s"] + stats["encode_s"]
        result["extraction"] = {
            "videos": stats["videos"], "frames": stats["frames"],
            "decode_frames_per_s": stats["frames"] / stats["decode_s"],
            "encode_frames_per_s": stats["frames"] / stats["encode_s"],
            "end_to_end_frames_per_s": stats["frames"] / stats["wall_s"],
            # 1 = decode fully hidden behind encode (or vice versa), 0 = serial.
            "overlap": max(0.0, busy - stats["wall_s"]) / min(stats["decode_s"],
                                                              stats["encode_s"]),
            "decode_workers": 1,
        }
        cache = FeatureCache.open(Path(tmp) / "cache")
        stream = stream_seconds(cache, args.batch_size, 8, args.epochs)
        clips = args.epochs * len(epoch_batches(len(cache), args.batch_size, 0, 0)) * min(
            args.batch_size, len(cache))
        result["stream_clips_per_s"] = clips / stream
        result["heads"] = {}
        # asu and alt run on frame features alone here (each frame its own region, K = 1);
        # region-token extraction is measured in bench/region_bench.py.
        for head in ("mean", "temporal", "storyboard", "asu", "alt"):
            cfg = TrainConfig(bundle=args.bundle, train_features=str(Path(tmp) / "cache"),
                              out=str(Path(tmp) / f"run-{head}"), head=head,
                              epochs=args.epochs, batch_size=args.batch_size, progress=False)
            summary = train(cfg)
            rate = clips / summary["seconds"]
            result["heads"][head] = {"clips_per_s": rate,
                                     "ratio_to_stream_bound": rate / result["stream_clips_per_s"]}
        # finetune: decode + visual encoder forward/backward + head, end to end. On CPU
        # with the tiny config this measures the plumbing's overhead, not a GPU's rate.
        cfg = TrainConfig(bundle=args.bundle, mode="finetune", train_list=str(lists["train"]),
                          out=str(Path(tmp) / "run-finetune"), head="temporal",
                          epochs=1, frames=8, batch_size=8, decode_workers=1,
                          device=device, progress=False)
        summary = train(cfg)
        clips = summary["steps"] * cfg.batch_size
        result["finetune"] = {"head": cfg.head, "frames": cfg.frames,
                              "batch_size": cfg.batch_size, "decode_workers": 1,
                              "cpu_threads": cfg.cpu_threads,
                              "clips_per_s": clips / summary["seconds"],
                              "frames_per_s": clips * cfg.frames / summary["seconds"]}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1, default=float))
    print(json.dumps(result, indent=1, default=float))


if __name__ == "__main__":
    main()
