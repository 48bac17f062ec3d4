"""Corpus pipeline benchmarks, as ratios against baselines measured in the same process.

    python -m bench.corpus_bench [--classes N] [--dataset hmdb51] [--out bench/results/corpus.json]
    python -m bench.corpus_bench --only decoding [--decode-classes 8]

- Embedded decoding: the same prompts to the real llama.cpp server, unconstrained and
  constrained under the stock and the grammar-first sampler; decode rate (tokens / s) of each
  over the unconstrained one (goal >= 0.8), and the share of replies that validate.

- LLM utilisation: embedded server busy time / generation stage wall time (goal >= 0.9).
- Embedding path throughput / bare encoder throughput, same texts and batch (goal >= 0.9).
- Warm rerun of a finished corpus: wall time and LLM calls (goal: 0 calls, < 10 s).
- Per-class generation time on the embedded model; share of requests valid first time.
"""

import argparse
import contextlib
import json
import os
import re
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


# How the reply is constrained: (the response_format sent, None: unconstrained; the
# embedded server's sampler, corpus.llm.serve.SAMPLERS).
def _decode_variants(n: int) -> dict:
    from corpus.subtexts import subtext_schema

    build = {"type": "json_object", "schema": subtext_schema(n)}
    return {
        "unconstrained": (None, "grammar_first"),
        "schema, stock sampler (llama-cpp-python's order)": (build, "stock"),
        "schema, grammar-first sampler (the build's)": (build, "grammar_first"),
        "json_object_no_schema, grammar-first sampler": ({"type": "json_object"},
                                                         "grammar_first"),
    }


_PERF = re.compile(r"prompt eval time =\s*([\d.]+) ms.*?total time =\s*([\d.]+) ms", re.S)


def _generation_ms(log: Path, offset: int) -> float:
    """The server's own time for the last request, without its prompt processing: llama.cpp
    logs `prompt eval time` and `total time` per request (sampling, grammar included)."""
    with log.open("rb") as f:
        f.seek(offset)
        found = _PERF.findall(f.read().decode("utf-8", "replace"))
    if not found:
        raise SystemExit(f"{log}: no llama_perf timings after byte {offset}")
    prompt_ms, total_ms = map(float, found[-1])
    return total_ms - prompt_ms


def bench_decoding(dataset: str, n_classes: int, threads: tuple[int, ...]) -> dict:
    """Constrained vs unconstrained decode rate on the same prompts, real servers.

    One server per variant, all up; each prompt is sent in every variant before the
    next prompt, so a change in the machine's load falls on all variants alike. A
    server of its own per variant keeps each one's prompt cache to its own requests:
    llama.cpp's logits after a cached prefix differ in the last bits from a fresh
    evaluation, enough to flip a near-tie, so two samplers are compared on the same
    request sequence.
    """
    import openai

    from corpus.classes import load_class_list
    from corpus.config import load_config
    from corpus.errors import ReplyInvalid
    from corpus.llm.client import parse_json_reply
    from corpus.llm.embedded import EmbeddedServer
    from corpus.prompts import load_prompt_set
    from corpus.subtexts import parse_subtext_reply

    cfg = load_config()
    prompts = load_prompt_set(cfg.prompts)
    question = prompts.questions[0]
    labels = [c.label for c in load_class_list(dataset).classes[:n_classes]]
    variants = _decode_variants(cfg.n_subtexts)
    out: dict = {"dataset": dataset, "classes": n_classes, "prompt": question.id,
                 "max_tokens": 200, "temperature": 0.0, "by_threads": {}}
    with tempfile.TemporaryDirectory() as d, contextlib.ExitStack() as stack:
        for n_threads in threads:
            servers, clients, logs = {}, {}, {}
            for i, (name, (_, sampler)) in enumerate(variants.items()):
                logs[name] = Path(d) / f"llama-{n_threads}-{i}.log"
                servers[name] = stack.enter_context(
                    EmbeddedServer(logs[name], n_threads=n_threads, sampler=sampler))
                clients[name] = openai.OpenAI(base_url=servers[name].base_url,
                                              api_key="x", max_retries=0, timeout=1800)
            totals = {name: {"tokens": 0, "seconds": 0.0, "generation_s": 0.0, "valid": 0,
                             "replies": []} for name in variants}
            for label in labels:
                for name, (fmt, _) in variants.items():
                    params = {"model": "m", "max_tokens": 200, "temperature": 0.0, "seed": 0,
                              "messages": prompts.messages(question, label, cfg.n_subtexts)}
                    if fmt is not None:
                        params["response_format"] = fmt
                    offset = logs[name].stat().st_size
                    started = time.perf_counter()
                    reply = clients[name].chat.completions.create(**params)
                    t = totals[name]
                    t["seconds"] += time.perf_counter() - started
                    t["generation_s"] += _generation_ms(logs[name], offset) / 1000
                    t["tokens"] += reply.usage.completion_tokens
                    t["replies"].append(reply.choices[0].message.content)
                    try:
                        parse_subtext_reply(parse_json_reply(reply.choices[0].message.content),
                                            cfg.n_subtexts, prompts.example_subtexts)
                        t["valid"] += 1
                    except ReplyInvalid:
                        pass
            for server in servers.values():
                server.stop()
            by_variant = {name: {"sampler": variants[name][1],
                                 "completion_tokens": t["tokens"],
                                 "seconds": round(t["seconds"], 2),
                                 "tokens_per_s": round(t["tokens"] / t["seconds"], 1),
                                 "generation_s": round(t["generation_s"], 2),
                                 "decode_tokens_per_s": round(t["tokens"] / t["generation_s"], 1),
                                 "valid_share": round(t["valid"] / len(labels), 3)}
                          for name, t in totals.items()}
            base = by_variant["unconstrained"]
            for v in by_variant.values():
                v["rate_over_unconstrained"] = round(v["tokens_per_s"] / base["tokens_per_s"], 3)
                v["decode_rate_over_unconstrained"] = round(
                    v["decode_tokens_per_s"] / base["decode_tokens_per_s"], 3)
            stock, first = (totals[n]["replies"] for n in list(variants)[1:3])
            by_variant["same_replies_stock_and_grammar_first"] = stock == first
            out["by_threads"][str(n_threads)] = by_variant
    out["note"] = ("seconds are request wall time (prompt processing included, same prompts "
                   "for every variant); generation_s is the server's own time per request "
                   "without prompt processing (llama_perf total - prompt eval; sampling and "
                   "grammar included), decode_tokens_per_s completion tokens over it. The "
                   "stock sampler filters the whole vocabulary through the grammar before "
                   "greedy; grammar-first (corpus/llm/serve.py) asks the grammar only about "
                   "the greedy token and filters the vocabulary only when it is refused; at "
                   "temperature 0 both give the same replies (same_replies_...)")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="hmdb51")
    ap.add_argument("--classes", type=int, default=51)
    ap.add_argument("--out", default=str(REPO / "bench/results/corpus.json"))
    ap.add_argument("--only", choices=["decoding"], default=None,
                    help="run only this part and update its key in --out")
    ap.add_argument("--decode-classes", type=int, default=8)
    ap.add_argument("--decode-threads", type=int, nargs="+", default=[2, 1])
    args = ap.parse_args()
    if args.only == "decoding":
        path = Path(args.out)
        results = json.loads(path.read_text()) if path.is_file() else {}
        results["decoding"] = bench_decoding(args.dataset, args.decode_classes,
                                             tuple(args.decode_threads))
        path.write_text(json.dumps(results, indent=2) + "\n")
        print(json.dumps(results["decoding"], indent=2))
        return
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
    results["decoding"] = bench_decoding(args.dataset, 8, (2, 1))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
