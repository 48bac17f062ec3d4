"""Load: a Kinetics-400-sized generation run against a fault-free fake endpoint (issue 6).

    python -m bench.load_bench [--classes 400] [--latency-ms 20] [--concurrency 1 8 32 128]

400 classes × 4 sub-text prompts × 3 models = 4,800 requests per level. A loopback
OpenAI-compatible endpoint (tests/corpus/faulty_endpoint.py, fault rate 0) answers each
request with a valid reply after `latency`. The endpoint runs in this process; every
concurrency level runs in a fresh subprocess with an empty LLM cache, so its peak RSS is
its own and no level answers from another's cache.

The client side is the pipeline's own generation path: one LLMClient per model (its
semaphore set to the level's `concurrency`, as a user writes it in the config), one
LLMSource per (model, prompt), and classes fanned out over as many threads as
`corpus.pipeline.build` gives its per-class step (the sum of the endpoints' concurrency).
A class task asks its 12 questions one after another, so at most 3 × concurrency
requests are in flight; the ideal throughput is that number / latency. Prefect's own
per-task overhead is not in these numbers (the flow adds one task run per class, not per
request).
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODELS = ("model-a", "model-b", "model-c")


def run_level(base_url: str, concurrency: int, classes: int, dataset: str) -> dict:
    """One level, in this (fresh) process: generate every class through the pipeline path."""
    from corpus.cache import KeyValueCache
    from corpus.classes import load_class_list
    from corpus.config import Endpoint
    from corpus.llm.client import LLMClient
    from corpus.prompts import load_prompt_set
    from corpus.sources import ClassSources, generate_class
    from corpus.subtexts import LLMSource

    prompts = load_prompt_set("subtexts-v1")
    actions = load_class_list(dataset).head(classes).classes
    with tempfile.TemporaryDirectory() as tmp:
        cache = KeyValueCache(Path(tmp) / "llm.sqlite")
        clients = [LLMClient(Endpoint(name=m, base_url=base_url, model=m, timeout_s=30,
                                      concurrency=concurrency), cache, Path(tmp) / "logs")
                   for m in MODELS]
        sources = ClassSources([LLMSource(c, prompts, q, 4) for c in clients
                                for q in prompts.questions], [])
        workers = sum(c.endpoint.concurrency for c in clients)  # as corpus.pipeline.build
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            generated = list(pool.map(lambda a: generate_class(a, sources), actions))
        wall = time.perf_counter() - started
        for c in clients:
            c.close()
        cache.close()
    requests = sum(c.usage.requests for c in clients)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "concurrency_per_endpoint": concurrency,
        "worker_threads": workers,
        "max_in_flight": min(workers, len(MODELS) * concurrency),
        "classes": len(actions), "sources": len(sources.subtexts),
        "requests": requests,
        "transport_retries": sum(c.usage.transport_retries for c in clients),
        "invalid_replies": sum(c.usage.invalid_replies for c in clients),
        "candidate_sets": sum(len(g.candidates) for g in generated),
        "failed_sets": sum(len(g.failures) for g in generated),
        "wall_s": round(wall, 3),
        "requests_per_s": round(requests / wall, 1),
        # CPU per request does not depend on what else the machine runs: the part of
        # the result that compares across machines and sessions.
        "client_cpu_ms_per_request": round(1000 * (usage.ru_utime + usage.ru_stime)
                                           / max(requests, 1), 3),
        # ru_maxrss is KiB on Linux; the level's process did nothing else.
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="kinetics400")
    ap.add_argument("--classes", type=int, default=400)
    ap.add_argument("--latency-ms", type=float, default=20.0)
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32, 128])
    ap.add_argument("--out", default=str(REPO / "bench/results/load.json"))
    ap.add_argument("--level", type=int, help=argparse.SUPPRESS)  # internal: one level
    ap.add_argument("--base-url", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.level is not None:
        print(json.dumps(run_level(args.base_url, args.level, args.classes, args.dataset)))
        return

    from tests.corpus.faulty_endpoint import FaultyEndpoint

    latency = args.latency_ms / 1000
    levels = []
    with FaultyEndpoint(0.0, latency_s=latency) as endpoint:
        for c in args.concurrency:
            load_before = round(os.getloadavg()[0], 2)
            out = subprocess.run(
                [sys.executable, "-m", "bench.load_bench", "--level", str(c),
                 "--base-url", endpoint.base_url, "--classes", str(args.classes),
                 "--dataset", args.dataset],
                cwd=REPO, capture_output=True, text=True, check=True).stdout
            level = json.loads(out.strip().splitlines()[-1])
            ideal = level["max_in_flight"] / latency
            level["ideal_requests_per_s"] = round(ideal, 1)
            level["ratio_vs_ideal"] = round(level["requests_per_s"] / ideal, 3)
            level["load_average_1m_before"] = load_before
            levels.append(level)
            print(json.dumps(level), flush=True)
        served = dict(endpoint.counts)
    results = {
        "dataset": args.dataset, "classes": args.classes, "models": len(MODELS),
        "latency_ms": args.latency_ms, "cpu_count": os.cpu_count(),
        "endpoint_answered": served, "levels": levels,
        "note": ("client and endpoint share this machine's CPUs; at high concurrency the "
                 "ratio is bounded by Python's per-request CPU cost on both sides, not by "
                 "the latency"),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
