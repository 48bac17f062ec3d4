"""Curated vs embedded-LLM candidate sets under TPP, from finished bundles (issue 7).

    python -m bench.curated_vs_llm artifacts/corpora/hmdb51 [more bundles…]

Per bundle: mean TPP and the per-class TPP distribution of each source kind, how often
plain TPP would select each kind, how often the configured tiers did, and the share of
embedded-LLM sets rejected as degenerate. Writes bench/results/curated_vs_llm.json.
"""

import json
import sys
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[1]


def compare(bundle: Path) -> dict:
    manifest = json.loads((bundle / "manifest.json").read_text())
    sets = duckdb.sql(f"""
        select class_id, candidate_id, any_value(source_kind) as kind,
               any_value(source) as source, any_value(tpp) as tpp,
               bool_or(selected) as selected, any_value(rejected_reason) as rejected
        from '{bundle}/subtexts.parquet' group by class_id, candidate_id""").df()
    by_kind = {}
    for kind, group in sets.groupby("kind"):
        valid = group.tpp.dropna()
        best_per_class = group.groupby("class_id").tpp.max().dropna()
        by_kind[kind] = {
            "candidate_sets": len(group),
            "rejected_share": round(float(group.rejected.notna().mean()), 3),
            "mean_tpp": round(float(valid.mean()), 3) if len(valid) else None,
            "class_best_tpp_quantiles": {
                q: round(float(best_per_class.quantile(q)), 3) for q in (0.1, 0.5, 0.9)
            } if len(best_per_class) else None,
        }
    kinds = dict(zip(sets.source, sets.kind, strict=True))

    def share(counts: dict) -> dict:
        total = sum(counts.values()) or 1
        out: dict[str, float] = {}
        for src, n in counts.items():
            out[kinds[src]] = out.get(kinds[src], 0) + n / total
        return {k: round(v, 3) for k, v in out.items()}

    tpp = manifest["tpp"]
    return {
        "bundle": str(bundle), "dataset": manifest["dataset"]["name"],
        "classes": manifest["counts"]["classes"], "tpp_encoder": tpp["encoder"],
        "by_source_kind": by_kind,
        "selected_share_plain_tpp": share(tpp["selected_by_source_plain_tpp"]),
        "selected_share_with_tiers": share(tpp["selected_by_source"]),
    }


def main() -> None:
    results = [compare(Path(b)) for b in sys.argv[1:]]
    out = REPO / "bench/results/curated_vs_llm.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
