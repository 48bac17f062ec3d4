"""Curated vs embedded-LLM candidate sets under TPP, from finished bundles (issue 7).

    python -m bench.curated_vs_llm artifacts/corpora/hmdb51 [more bundles…]

The bundles must hold both kinds of set: build them with
`--config data/configs/embedded-always.yaml` (the default, `embedded_llm: fallback`,
asks the embedded model nothing for a class with curated text).

Per bundle: mean TPP and the per-class TPP distribution of each source kind, how often
plain TPP would select each kind, how often the configured tiers did, and the share of
embedded-LLM sets rejected as degenerate, and side-by-side examples (the selected
curated set next to the embedded model's best-scoring valid set) for a few classes drawn
with a fixed seed. Writes bench/results/curated_vs_llm.json and the README's table,
bench/results/curated_vs_llm.md.
"""

import json
import sys
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[1]


def side_by_side(bundle: Path, n: int, seed: int = 0) -> list[dict]:
    """For n classes (seeded draw): each source kind's best valid set, with its TPP."""
    rows = duckdb.sql(f"""
        select c.name as class, s.class_id, s.candidate_id, s.source_kind as kind,
               s.source, s.tpp, s.position, s.text
        from '{bundle}/subtexts.parquet' s join '{bundle}/classes.parquet' c using (class_id)
        where s.tpp is not null and s.rejected_reason is null""").df()
    both = rows.groupby("class_id").kind.nunique()
    chosen = both[both > 1].sample(min(n, int((both > 1).sum())), random_state=seed).index
    out = []
    for class_id in sorted(chosen):
        cls = rows[rows.class_id == class_id]
        entry: dict = {"class": cls["class"].iloc[0]}
        for kind, group in cls.groupby("kind"):
            best = group[group.tpp == group.tpp.max()].sort_values("position")
            best = best[best.candidate_id == best.candidate_id.iloc[0]]
            entry[kind] = {"source": best.source.iloc[0], "tpp": round(float(best.tpp.iloc[0]), 3),
                           "subtexts": best.text.tolist()}
        out.append(entry)
    return out


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
                str(q): round(float(best_per_class.quantile(q)), 3) for q in (0.1, 0.5, 0.9)
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
        "classes": manifest["counts"]["classes"],
        "classes_in_dataset": manifest["dataset"]["n_classes_in_list"],
        "tpp_encoder": tpp["encoder"],
        "by_source_kind": by_kind,
        "selected_share_plain_tpp": share(tpp["selected_by_source_plain_tpp"]),
        "selected_share_with_tiers": share(tpp["selected_by_source"]),
        "examples": side_by_side(bundle, n=3),
    }


NAMES = {"hmdb51": "HMDB-51", "ucf101": "UCF-101", "kinetics400": "Kinetics-400"}


def markdown_table(results: list[dict]) -> str:
    """The README's table: per dataset, each source kind's mean TPP and the 10th / 50th /
    90th percentiles of its best set's TPP per class, and how the sources were selected."""
    lines = ["| dataset | classes | mean TPP curated | mean TPP SmolLM2 "
             "| best set per class p10 / p50 / p90, curated | same, SmolLM2 "
             "| SmolLM2 sets rejected | plain TPP picks SmolLM2 | default bundle picks curated |",
             "|---|---|---|---|---|---|---|---|---|"]

    def mean(kind: dict) -> str:
        return "–" if kind.get("mean_tpp") is None else f"{kind['mean_tpp']:.2f}"

    def quantiles(kind: dict) -> str:
        if not kind.get("class_best_tpp_quantiles"):
            return "–"
        return " / ".join(f"{kind['class_best_tpp_quantiles'][q]:.1f}"
                          for q in ("0.1", "0.5", "0.9"))

    for r in results:
        # A bundle built without one of the sources has no entry for it: "–".
        curated, llm = (r["by_source_kind"].get(k, {}) for k in ("curated", "llm"))
        rejected = f"{llm['rejected_share']:.0%}" if llm else "–"
        lines.append(
            f"| {NAMES.get(r['dataset'], r['dataset'])} "
            f"| {r['classes']} / {r.get('classes_in_dataset', r['classes'])} "
            f"| {mean(curated)} | {mean(llm)} | {quantiles(curated)} "
            f"| {quantiles(llm)} | {rejected} "
            f"| {r['selected_share_plain_tpp'].get('llm', 0):.0%} "
            f"| {r['selected_share_with_tiers'].get('curated', 0):.0%} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    out = REPO / "bench/results/curated_vs_llm.json"
    # One entry per dataset: a run on some bundles keeps the other datasets' results.
    kept = {r["dataset"]: r for r in json.loads(out.read_text())} if out.is_file() else {}
    kept.update((r["dataset"], r) for r in (compare(Path(b)) for b in sys.argv[1:]))
    results = list(kept.values())
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown_table(results))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
