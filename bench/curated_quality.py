"""The curated text's quality before and after a revision, by the lint rules and the
MiniLM discrimination gate (docs/curated-format.md).

    python -m bench.curated_quality [--before main] [DATASET...]

"Before" is the curated file as committed at the git ref `--before` (default `main`),
read with `git show`; "after" is the working tree's. Per dataset and side: problems
per rule, and the gate's sets checked, sibling pairs checked, set and sub-text pass
rates and own-class nearest-name rate per perspective. Writes
bench/results/curated_quality.json and the README's table, bench/results/curated_quality.md.
"""

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

from corpus.classes import load_class_list
from corpus.curated import load_curated
from corpus.curated_lint import gate_encoders, lint_dataset

REPO = Path(__file__).resolve().parents[1]
DATASETS = ["hmdb51", "ucf101", "kinetics400"]
NAMES = {"hmdb51": "HMDB-51", "ucf101": "UCF-101", "kinetics400": "Kinetics-400"}


def committed_text(ref: str, dataset: str, folder: Path) -> Path:
    """The curated file (and revision records) as committed at `ref`, copied to folder."""
    for name in (f"{dataset}.jsonl", "revisions.json"):
        blob = subprocess.run(["git", "show", f"{ref}:data/curated/{name}"], cwd=REPO,
                              capture_output=True, check=True).stdout
        (folder / name).write_bytes(blob)
    return folder / f"{dataset}.jsonl"


def measure(dataset: str, path: Path | None, encoders: list) -> dict:
    result = lint_dataset(load_curated(dataset, path), load_class_list(dataset), encoders)
    report = result.report()
    return {"ok": report["ok"], "problems_by_rule": report["problems_by_rule"],
            "gate": report["gate"][0]}


def markdown_table(results: list[dict]) -> str:
    lines = ["| dataset | side | sets | sibling pairs | sets pass | sub-texts in top 5 | "
             "own-class nearest name (temporal / body / objects) | lint problems |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results:
        for side in ("before", "after"):
            g = r[side]["gate"]
            rates = g["own_class_nearest_name_rate"]
            near = " / ".join(f"{rates[p]:.0%}" if p in rates else "–" for p in
                              ("temporal_phases", "body_movements", "objects_and_scene"))
            lines.append(f"| {NAMES.get(r['dataset'], r['dataset'])} | {side} | "
                         f"{g['sets_checked']} | {g['sibling_pairs_checked']} | "
                         f"{g['set_pass_rate']:.1%} | {g['subtext_pass_rate']:.1%} | {near} | "
                         f"{sum(r[side]['problems_by_rule'].values())} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="*", default=DATASETS)
    parser.add_argument("--before", default="main", help="git ref of the 'before' text")
    args = parser.parse_args(argv)
    encoders = gate_encoders()[:1]  # MiniLM: the numbers the issue asks for
    results = []
    for dataset in args.datasets:
        with tempfile.TemporaryDirectory() as tmp:
            before = measure(dataset, committed_text(args.before, dataset, Path(tmp)), encoders)
        after = measure(dataset, None, encoders)
        results.append({"dataset": dataset, "before_ref": args.before,
                        "encoder": after["gate"]["encoder"], "before": before, "after": after})
        print(f"{dataset}: sets pass {before['gate']['set_pass_rate']:.1%} -> "
              f"{after['gate']['set_pass_rate']:.1%}")
    out = REPO / "bench" / "results"
    (out / "curated_quality.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "curated_quality.md").write_text(markdown_table(results))
    print(markdown_table(results))


if __name__ == "__main__":
    main()
