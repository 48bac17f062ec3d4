"""How a curated-only corpus build scales with the dataset, against the bare work it holds.

    python -m bench.corpus_scale [--out bench/results/corpus_scale.json] [--part NAME]

All in one run, each measurement in a fresh process with fresh caches (wall time and the
process tree's peak RSS, from the OS):

- bound: a plain script doing the build's real work for Kinetics-400 and nothing else:
  read the curated text, encode each distinct string once with the same MiniLM, spaCy-parse
  the sub-texts; loading the models included.
- curated-only builds (`data/configs/curated-only.yaml`, Prefect flow, thread runner) of
  Kinetics-400, HMDB-51 and the first 51 Kinetics-400 classes.
- ratios: K400 build / bound (goal <= 3); per-class generate cost K400 / HMDB-51 (goal
  <= 1.3); orchestration overhead = (flow wall - the tasks' work) / flow wall (goal <= 0.10).
- the default `subtext corpus build` (default config: curated text, the embedded model only
  as a fallback, so no server) of Kinetics-400 and HMDB-51 with fresh caches, and a rerun.
"""

import argparse
import fcntl
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CURATED_ONLY = "data/configs/curated-only.yaml"


def _measured(cmd: list[str], env: dict) -> dict:
    """Wall seconds and peak RSS (MiB) of one command, run in its own child process."""
    probe = ("import json,resource,subprocess,sys,time; t=time.perf_counter(); "
             "r=subprocess.run(sys.argv[1:]); "
             "print(json.dumps({'rc': r.returncode, 'wall_s': time.perf_counter()-t, "
             "'peak_rss_mib': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss/1024}))")
    done = subprocess.run([sys.executable, "-c", probe, *cmd], cwd=REPO, env=env,
                          capture_output=True, text=True)
    if done.returncode != 0 or not done.stdout.strip():
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["rc"] != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {result['rc']}:\n{done.stderr[-3000:]}")
    lines = done.stdout.strip().splitlines()
    return {"wall_s": round(result["wall_s"], 2),
            "peak_rss_mib": round(result["peak_rss_mib"], 1),
            "_stdout_last": lines[-2] if len(lines) > 1 else ""}


def bare_work(dataset: str) -> dict:
    """The bound's body (run in a child process by `bound`)."""
    started = time.perf_counter()
    from corpus.curated import load_curated
    from corpus.encoders import create_encoder
    from corpus.entities.models import spacy_pipeline

    curated = load_curated(dataset)
    strings, subtexts = {}, []
    for entry in curated.classes.values():
        strings[entry.name.replace("_", " ")] = None
        for sets in entry.candidates.values():
            subtexts += sets
            strings.update(dict.fromkeys(sets))
        for units in [*entry.units.values(), entry.roles]:
            strings.update(dict.fromkeys(units))
    encoder = create_encoder("minilm")
    texts = list(strings)
    for i in range(0, len(texts), 64):
        encoder.encode(texts[i : i + 64], with_tokens=False)
    parsed = sum(1 for _ in spacy_pipeline().pipe(subtexts, batch_size=256))
    return {"distinct_strings_encoded": len(texts), "subtexts_parsed": parsed,
            "work_s": round(time.perf_counter() - started, 2)}


def build(tmp: Path, tag: str, dataset: str, classes: int | None, config: str | None,
          runner: str = "thread") -> dict:
    cache, out = tmp / f"cache-{tag}", tmp / f"bundle-{tag}"
    env = {**os.environ, "SUBTEXT_CACHE_DIR": str(cache), "PREFECT_HOME": str(tmp / "prefect")}
    cmd = [sys.executable, "-m", "pipelines.cli", "corpus", "build", "--dataset", dataset,
           "--out", str(out), "--task-runner", runner]
    cmd += ["--classes", str(classes)] if classes else []
    cmd += ["--config", config] if config else []
    result = _measured(cmd, env)
    result.pop("_stdout_last")
    run = json.loads((out / "manifest.json").read_text())["run"]
    n = json.loads((out / "manifest.json").read_text())["dataset"]["n_classes"]
    work = sum(run["work_s"].values())
    result |= {
        "classes": n,
        "flow_wall_s": run["wall_s"],
        "work_s": run["work_s"],
        "stage_times": run["stage_times"],
        "generate_s_per_class": round(run["stage_times"]["generate_s"] / n, 5),
        "overhead_fraction_in_flow": round((run["wall_s"] - work) / run["wall_s"], 3),
        "overhead_fraction_process": round((result["wall_s"] - work) / result["wall_s"], 3),
        "llm_requests": sum(u["requests"] for u in run["llm_usage"].values()),
    }
    result["_rerun_cmd"], result["_env"] = cmd, env
    return result


def curated_only(tmp: Path) -> dict:
    """The bound and the curated-only builds, with the ratios (one run)."""
    results: dict = {}
    env = {**os.environ, "SUBTEXT_CACHE_DIR": str(tmp / "cache-bound")}
    probe = [sys.executable, "-m", "bench.corpus_scale", "--bare-work", "kinetics400"]
    bound = _measured(probe, env)
    bound |= json.loads(bound.pop("_stdout_last"))
    results["bound_kinetics400"] = bound
    print("bound", json.dumps(bound), flush=True)
    runs = {"kinetics400": ("kinetics400", None), "hmdb51": ("hmdb51", None),
            "kinetics400_first51": ("kinetics400", 51)}
    for tag, (dataset, n) in runs.items():
        r = build(tmp, tag, dataset, n, CURATED_ONLY)
        r.pop("_rerun_cmd"), r.pop("_env")
        results[f"curated_only_{tag}"] = r
        print(tag, json.dumps(r), flush=True)
    k400, hmdb = results["curated_only_kinetics400"], results["curated_only_hmdb51"]
    first51 = results["curated_only_kinetics400_first51"]
    results["ratios"] = {
        "build_over_bound_kinetics400": round(k400["wall_s"] / bound["wall_s"], 2),
        "generate_per_class_kinetics400_over_hmdb51": round(
            k400["generate_s_per_class"] / hmdb["generate_s_per_class"], 2),
        "generate_per_class_kinetics400_over_first51": round(
            k400["generate_s_per_class"] / first51["generate_s_per_class"], 2),
        "overhead_fraction_in_flow_kinetics400": k400["overhead_fraction_in_flow"],
        "overhead_fraction_process_kinetics400": k400["overhead_fraction_process"],
        "goals": {"build_over_bound": 3, "generate_per_class_ratio": 1.3,
                  "overhead_fraction": 0.10},
    }
    return results


def default_builds(tmp: Path) -> dict:
    """`subtext corpus build` with the default config and fresh caches, then a rerun."""
    results: dict = {}
    for dataset in ("kinetics400", "hmdb51"):
        r = build(tmp, f"default-{dataset}", dataset, None, None)
        rerun = _measured(r.pop("_rerun_cmd"), r.pop("_env"))
        rerun.pop("_stdout_last")
        results[f"default_{dataset}"] = r | {"rerun": rerun}
        print(dataset, json.dumps(results[f"default_{dataset}"]), flush=True)
    # the same ratio as curated_only's, from these builds: at a few ms a class the
    # generate stage scatters from run to run, so each run gives two readings
    results["generate_per_class_kinetics400_over_hmdb51"] = round(
        results["default_kinetics400"]["generate_s_per_class"]
        / results["default_hmdb51"]["generate_s_per_class"], 2)
    results["default_goals"] = {"kinetics400_wall_s": 180, "kinetics400_peak_rss_mib": 1229,
                                "hmdb51_wall_s": 60, "rerun_wall_s": 5}
    return results


PARTS = {"curated-only": curated_only, "default": default_builds}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(REPO / "bench/results/corpus_scale.json"))
    ap.add_argument("--part", choices=["all", *PARTS], default="all",
                    help="one part only, merged into --out (two parts may run side by side)")
    ap.add_argument("--bare-work", default=None, help=argparse.SUPPRESS)  # the child's side
    args = ap.parse_args()
    if args.bare_work:
        print(json.dumps(bare_work(args.bare_work)))
        return
    header = {"cpu_count": os.cpu_count(),
              "load_average_1m_at_start": round(os.getloadavg()[0], 2)}
    parts = PARTS if args.part == "all" else {args.part: PARTS[args.part]}
    results: dict = {}
    with tempfile.TemporaryDirectory() as d:
        for name, run in parts.items():
            results[name] = {**header, **run(Path(d)),
                             "load_average_1m_at_end": round(os.getloadavg()[0], 2)}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.with_suffix(".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        merged = json.loads(out.read_text()) if out.is_file() and args.part != "all" else {}
        out.write_text(json.dumps(merged | results, indent=2) + "\n")
    out.with_suffix(".lock").unlink(missing_ok=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
