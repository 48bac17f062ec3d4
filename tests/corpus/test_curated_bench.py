"""bench.curated_vs_llm on a real bundle (3 HMDB-51 classes, curated text and the embedded
SmolLM2 server asked for every class: `embedded_llm: always`): the numbers match the bundle
read back with pyarrow, and the README table is written from them."""

import pyarrow.compute as pc
import pyarrow.parquet as pq

from bench.curated_vs_llm import compare, markdown_table


def test_bench_reads_the_bundle_and_writes_the_readme_row(bundle):
    result = compare(bundle)
    assert result["dataset"] == "hmdb51"
    assert (result["classes"], result["classes_in_dataset"]) == (3, 51)
    assert set(result["by_source_kind"]) == {"curated", "llm"}
    # The tiers rank curated above the embedded model: every class curated.
    assert result["selected_share_with_tiers"] == {"curated": 1.0}
    assert abs(sum(result["selected_share_plain_tpp"].values()) - 1) < 1e-6

    # One row per (class, candidate set) carries the set's TPP; read independently.
    table = pq.read_table(bundle / "subtexts.parquet")
    curated = table.filter(pc.equal(table["source_kind"], "curated"))
    sets = {}
    for class_id, candidate, tpp in zip(curated["class_id"].to_pylist(),
                                        curated["candidate_id"].to_pylist(),
                                        curated["tpp"].to_pylist(), strict=True):
        sets[(class_id, candidate)] = tpp
    assert result["by_source_kind"]["curated"]["candidate_sets"] == len(sets) == 9  # 3 x 3
    expected_mean = sum(sets.values()) / len(sets)
    assert abs(result["by_source_kind"]["curated"]["mean_tpp"] - expected_mean) < 1e-3
    q = result["by_source_kind"]["curated"]["class_best_tpp_quantiles"]
    assert q["0.1"] <= q["0.5"] <= q["0.9"]

    for example in result["examples"]:
        assert example["curated"]["source"].startswith("curated/")
        assert len(example["curated"]["subtexts"]) == 4

    row = markdown_table([result]).splitlines()[2]
    assert row.startswith("| HMDB-51 | 3 / 51 | ")
    assert row.endswith("| 100% |")
    # A bundle without LLM sets gets dashes, not an error.
    curated_only = result | {"by_source_kind": {"curated": result["by_source_kind"]["curated"]}}
    assert "| – | " in markdown_table([curated_only])
