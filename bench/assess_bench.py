"""Intrinsic assessment wall time, as a ratio against the bare encode time of the same
distinct strings measured in the same run.

    python -m bench.assess_bench --bundle hmdb51=PATH [--bundle kinetics400=PATH …] \
        [--out bench/results/assess.json]

Per bundle, in one process with the TPP encoder already loaded (its load time is the same
for both sides and is reported apart):
- bare: `encoder.encode` of every distinct string the assessment embeds, batches of 64,
  no cache;
- cold: `subtext corpus assess` (library call, --plain) with an empty embedding cache, so
  every string is encoded, plus verification, measures, report and plots;
- warm: the same again with that cache filled (the usual case: a build has embedded the
  bundle's texts already);
- cli: the command a user runs (`subtext corpus assess B --plain`) in a fresh process on the
  warm cache, start-up and model load included (targets: HMDB-51 < 1 min, K400 < 5 min).
Each entry records when it ran and the machine's load average: on a shared machine the
seconds move with the load, the ratios much less. Entries of earlier invocations for
other bundles are kept.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def bench_bundle(bundle: Path, work: Path, keep: Path | None = None) -> dict:
    from corpus.assess import assess_bundle
    from corpus.assess.intrinsic import all_texts, bundle_encoders, load_bundle_text

    started = time.perf_counter()
    text = load_bundle_text(bundle)
    encoders, _ = bundle_encoders(text.manifest)
    load_s = time.perf_counter() - started
    strings = all_texts(text)
    encoder = encoders[0]
    encoder.encode(strings[:64], with_tokens=False)  # warm-up
    started = time.perf_counter()
    for i in range(0, len(strings), 64):
        encoder.encode(strings[i:i + 64], with_tokens=False)
    bare = time.perf_counter() - started

    os.environ["SUBTEXT_CACHE_DIR"] = str(work / "cache")
    timings = {}
    for run in ("cold", "warm"):
        started = time.perf_counter()
        assess_bundle(bundle, keep if keep and run == "warm" else work / f"out-{run}")
        timings[run] = time.perf_counter() - started
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pipelines.cli", "corpus", "assess", str(bundle),
                    "--plain", "-o", str(work / "out-cli")], cwd=REPO, check=True,
                   capture_output=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    cli = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU seconds do not grow with other processes' load as wall seconds do.
    cli_cpu = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
    return {
        "bundle": str(bundle), "classes": len(text.names), "distinct_strings": len(strings),
        "sources": len(text.sources), "encoder": encoder.id,
        "verify_load_and_encoder_s": round(load_s, 2),
        "bare_encode_s": round(bare, 2), "assess_cold_s": round(timings["cold"], 2),
        "assess_warm_s": round(timings["warm"], 2), "cli_warm_s": round(cli, 2),
        "cli_warm_cpu_s": round(cli_cpu, 2),
        "ratio_cold_over_bare": round(timings["cold"] / bare, 3),
        "ratio_warm_over_bare": round(timings["warm"] / bare, 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bundle", action="append", required=True, metavar="NAME=PATH")
    ap.add_argument("--out", default=str(REPO / "bench/results/assess.json"))
    ap.add_argument("--reports", default=None,
                    help="keep each bundle's assessment (of the warm run) in REPORTS/NAME")
    args = ap.parse_args()
    out = Path(args.out)
    # Bundles benched in separate invocations accumulate (each entry says when it ran).
    previous = json.loads(out.read_text()).get("bundles", {}) if out.is_file() else {}
    results: dict = {"cpu_count": os.cpu_count(),
                     "targets": {"hmdb51_cli_s": 60, "kinetics400_cli_s": 300},
                     "bundles": previous}
    for spec in args.bundle:
        name, _, path = spec.partition("=")
        with tempfile.TemporaryDirectory() as d:
            results["bundles"][name] = {
                **bench_bundle(Path(path), Path(d),
                               Path(args.reports) / name if args.reports else None),
                "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "load_average_1min": round(os.getloadavg()[0], 1)}
        print(json.dumps({name: results["bundles"][name]}, indent=2), flush=True)
        out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
