"""Region-feature extraction cost (JSON): encoder throughput (frames/s) of ToMe-merged
(ALT) and multi-region-attention (ASU) encoding against plain CLS encoding, timed in
the same process on the same frames (their ratio), the cache size per video, and
GFLOPs per clip counted with torch.utils.flop_counter.FlopCounterMode.

    python bench/region_bench.py [--models subtext-tiny,ViT-B-16] \
        [--repeats 5] [--out bench/results/regions.json]

Frames are real: PyAV-decoded synthetic clips, CLIP-preprocessed to each model's input
size. Weights are random (seeded): throughput, FLOPs and sizes depend on the architecture
only. CPU numbers unless a GPU is present.
"""

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from model.clip import create_clip
from model.features.extract import cache_bytes_per_video
from model.features.regions import MRAConfig, RegionConfig, ToMeConfig, encode_regions, region_count
from model.synthetic import generate
from model.video.decode import clip_preprocess, decode_video
from model.video.lists import read_list

# Per architecture: the r (merges per block) and R (MRA region tokens) swept, and the
# frames per timed batch (tiny: enough that a batch is well above timer and scheduling
# noise; ViT-B/16: about 7 s a batch on 2 shared cores). The largest r is the most the
# model allows without clamping (the cache's N − L·r).
SWEEPS: dict[str, dict] = {
    "subtext-tiny": {"r": [1, 2, 3], "R": [1, 4, 16], "frames": 512},  # N = 16, L = 4
    "ViT-B-16": {"r": [4, 8, 12, 15], "R": [4, 9], "frames": 8},  # N = 196, L = 12
}
CACHE_FRAMES = 16  # the extractor's default frames per video
FLOP_CLIP_FRAMES = 8  # frames per clip for GFLOPs/clip: the papers' 8-frame setting


def real_frames(count: int, image_size: int, mean, std) -> torch.Tensor:
    with tempfile.TemporaryDirectory() as tmp:
        lists = generate(Path(tmp), train_per_class=1, val_per_class=0, corrupt=0, seed=0)
        frames = np.concatenate([decode_video(item.path) for item in read_list(lists["train"])])
    return clip_preprocess(frames[:count], image_size, mean, std)[0]


def gflops(fn) -> float:
    """Counted, with the math kernels that FlopCounterMode sees: nn.MultiheadAttention's
    inference fast path and CPU flash SDPA are fused ops it does not count (they would
    hide the attention — projections included — from the total)."""
    counter = FlopCounterMode(display=False)
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with torch.inference_mode(), sdpa_kernel(SDPBackend.MATH), counter:
            fn()
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
    return counter.get_total_flops() / 1e9


def seconds(fn) -> float:
    with torch.inference_mode():
        t0 = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        return time.perf_counter() - t0


def bench_model(name: str, frames: int, repeats: int, device: str) -> dict:
    visual = create_clip(name, "random", seed=0).visual.to(device)
    pre = visual.preprocess_cfg
    size = pre["size"][0] if isinstance(pre["size"], tuple | list) else pre["size"]
    x = real_frames(frames, size, pre["mean"], pre["std"]).to(device)
    dim = visual.output_dim
    configs: dict[str, RegionConfig] = {f"tome r={r}": ToMeConfig(r=r) for r in SWEEPS[name]["r"]}
    configs |= {f"mra R={R}": MRAConfig(R=R) for R in SWEEPS[name]["R"]}
    runs = {"plain": lambda: visual(x)} | {
        key: (lambda cfg=cfg: encode_regions(visual, x, cfg)) for key, cfg in configs.items()}
    runs["plain"]()  # warm-up (allocator, thread pool)
    times: dict[str, list[float]] = {key: [] for key in runs}
    # Interleaved repeats, best of them: on a shared machine a repeat is only ever slowed
    # by other processes, so the fastest is the closest to the encoder's own cost (the
    # median is kept too, and the load average says how shared the machine was).
    for _ in range(repeats):  # interleaved, so load from other processes hits all alike
        for key, fn in runs.items():
            times[key].append(seconds(fn))
    one = x[:1]
    plain_gflops = gflops(lambda: visual(one)) * FLOP_CLIP_FRAMES
    plain_fps = frames / min(times["plain"])
    result = {
        "model": name, "weights": "random (seed 0)", "image_size": size,
        "patch_tokens": int(np.prod(visual.grid_size)),
        "blocks": len(visual.transformer.resblocks), "dim": dim, "timed_frames": frames,
        "plain": {"frames_per_s": plain_fps,
                  "frames_per_s_median": frames / statistics.median(times["plain"]),
                  "gflops_per_clip": plain_gflops,
                  "cache_mb_per_video": cache_bytes_per_video(1, CACHE_FRAMES, dim, 0,
                                                              "float32") / 1e6},
        "regions": {},
    }
    for key, cfg in configs.items():
        k = region_count(visual, cfg)
        fps = frames / min(times[key])
        clip_gflops = gflops(lambda cfg=cfg: encode_regions(visual, one, cfg)) * FLOP_CLIP_FRAMES
        result["regions"][key] = {
            "config": cfg.options(), "tokens": k,
            "frames_per_s": fps, "throughput_ratio": fps / plain_fps,
            "frames_per_s_median": frames / statistics.median(times[key]),
            "gflops_per_clip": clip_gflops, "gflops_ratio": clip_gflops / plain_gflops,
            # With the uint16 region map of every patch (shard-N.regions_geometry.npy),
            # as the extractor's own size line counts it.
            "cache_mb_per_video": cache_bytes_per_video(
                1, CACHE_FRAMES, dim, k, "float32",
                patches=int(np.prod(visual.grid_size))) / 1e6,
            "cache_ratio": 1 + k,
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="subtext-tiny,ViT-B-16")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default="bench/results/regions.json")
    args = parser.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    result = {
        "device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
        "cpu": platform.processor() or platform.machine(),
        "torch_threads": torch.get_num_threads(),
        "load_average_1min_at_start": os.getloadavg()[0],
        "cache": f"1 crop x {CACHE_FRAMES} frames x (1 + K) x D float32 per video",
        "gflops": f"counted for one frame x {FLOP_CLIP_FRAMES} frames per clip",
        "models": [bench_model(name, SWEEPS[name]["frames"], args.repeats, device)
                   for name in args.models.split(",")],
    }
    result["load_average_1min_at_end"] = os.getloadavg()[0]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
