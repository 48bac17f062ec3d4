"""Corpus pipeline benchmarks, as ratios against baselines measured in the same process.

    python -m bench.corpus_bench [--classes N] [--dataset hmdb51] [--out bench/results/corpus.json]

- LLM utilisation: embedded server busy time / generation stage wall time (goal >= 0.9).
- Embedding path throughput / bare encoder throughput, same texts and batch (goal >= 0.9).
- Warm rerun of a finished corpus: wall time and LLM calls (goal: 0 calls, < 10 s).
- Per-class generation time on the embedded model; share of requests valid first time.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _cli(*args: str, env: dict) -> tuple[float, str]:
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "pipelines.cli", *args], cwd=REPO, env=env,
                         capture_output=True, text=True, check=True).stdout
    return time.perf_counter() - started, out


def bench_embedding(texts: list[str], batch_size: int) -> dict:
    from corpus.config import ClipEncoder
    from corpus.encoders import EmbeddingCache, create_encoder

    encoder = create_encoder(ClipEncoder(model="subtext-tiny", pretrained="random"))
    encoder.encode(texts[:batch_size], with_tokens=True)  # warm-up
    started = time.perf_counter()
    for i in range(0, len(texts), batch_size):
        encoder.encode(texts[i : i + batch_size], with_tokens=True)
    bare = len(texts) / (time.perf_counter() - started)
    with tempfile.TemporaryDirectory() as d:
        cache = EmbeddingCache(Path(d) / "e.sqlite")
        started = time.perf_counter()
        cache.embed(encoder, texts, with_tokens=set(texts), batch_size=batch_size)
        pipeline = len(texts) / (time.perf_counter() - started)
        started = time.perf_counter()
        cache.embed(encoder, texts, with_tokens=set(texts), batch_size=batch_size)
        cached = len(texts) / (time.perf_counter() - started)
    return {"encoder": encoder.id, "texts": len(texts), "batch_size": batch_size,
            "bare_texts_per_s": round(bare, 1), "pipeline_texts_per_s": round(pipeline, 1),
            "ratio_pipeline_over_bare": round(pipeline / bare, 3),
            "cached_texts_per_s": round(cached, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="hmdb51")
    ap.add_argument("--classes", type=int, default=51)
    ap.add_argument("--out", default=str(REPO / "bench/results/corpus.json"))
    args = ap.parse_args()
    results: dict = {"dataset": args.dataset, "classes": args.classes, "cpu_count": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "SUBTEXT_CACHE_DIR": f"{tmp}/cache", "PREFECT_HOME": f"{tmp}/pf"}
        out = f"{tmp}/bundle"
        # embedded_llm: always, so the embedded model answers for every class (the default,
        # fallback, starts no server for a dataset with curated text).
        build = ["corpus", "build", "--dataset", args.dataset, "--classes", str(args.classes),
                 "--out", out, "--config", "data/configs/embedded-always.yaml"]
        cold_s, _ = _cli(*build, env=env)
        manifest = json.loads(Path(out, "manifest.json").read_text())
        usage = manifest["run"]["llm_usage"]["embedded"]
        gen_s = manifest["run"]["stage_times"]["generate_s"]
        results["generation"] = {
            "requests": usage["requests"], "invalid_replies": usage["invalid_replies"],
            "server_busy_s": usage["busy_s"], "stage_wall_s": gen_s,
            "utilisation_busy_over_wall": round(usage["busy_s"] / gen_s, 3),
            "seconds_per_class": round(gen_s / args.classes, 3),
            "valid_first_time_share": round(1 - usage["invalid_replies"] / usage["requests"], 3),
            "note": "stage wall time includes the embedded server's start-up",
        }
        results["cold_build_wall_s"] = round(cold_s, 2)
        warm_s, text = _cli(*build, env=env)
        results["warm_rerun"] = {"wall_s": round(warm_s, 2), "up_to_date": "up to date" in text,
                                 "llm_calls": 0 if "LLM calls: 0 made" in text else None}
        forced_s, text = _cli(*build, "--force", env=env)
        forced = json.loads(Path(out, "manifest.json").read_text())["run"]["llm_usage"]
        results["forced_rebuild_from_cache"] = {
            "wall_s": round(forced_s, 2),
            "llm_calls": forced["embedded"]["requests"],
        }
        import pyarrow.parquet as pq

        texts = sorted(set(pq.read_table(f"{out}/subtexts.parquet").column("text").to_pylist()))
    results["embedding"] = bench_embedding(texts, batch_size=64)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
