"""The dataset card: a bundle's README.md with YAML front matter (as on dataset hubs),
generated from its manifest so the two never disagree."""

import yaml


def _source_line(src: dict) -> str:
    endpoint = src.get("endpoint")
    if isinstance(endpoint, dict):  # a sub-text source (model × prompt)
        where = "embedded llama.cpp server" if endpoint["embedded"] else endpoint["base_url"]
        return (f"LLM `{endpoint['model']}` at {where}, prompt `{src['prompt_id']}` "
                f"({src['prompt_set']})")
    if src.get("kind") == "curated" and "provenance" in src:
        what = ("semantic units and roles" if "perspective" not in src
                else f"the `{src['perspective']}` candidate sets")
        line = f"{what} from `{src['file']}`. {src['provenance']}"
        if "curation" in src:
            line += (f" Per-class curation records (how written, lint rules passed, when "
                     f"revised): `{src['curation']['file']}`, copied into manifest.json "
                     f"under this source's `curation.classes`.")
        return line
    if "provenance" in src:
        return src["provenance"]
    if endpoint:
        return f"semantic units from endpoint `{endpoint}`, prompt `{src['prompt_id']}`"
    return "semantic units and roles from the curated text"


def dataset_card(manifest: dict) -> str:
    """README.md with YAML front matter, in the style of dataset hubs."""
    ds = manifest["dataset"]
    encoders = manifest["encoders"]
    front = {
        "license": "cc-by-4.0",
        "language": ["en"],
        "pretty_name": f"subtext corpus: {ds['name']}",
        "tags": ["video-action-recognition", "text-knowledge", "subtext"],
        "configs": [{"config_name": "subtexts", "data_files": "subtexts.parquet"},
                    {"config_name": "classes", "data_files": "classes.parquet"}],
        "subtext": {"schema_version": manifest["schema_version"],
                    "inputs_sha256": manifest["inputs_sha256"]},
    }
    lines = ["---", yaml.safe_dump(front, sort_keys=False).strip(), "---", "",
             f"# subtext corpus: {ds['name']}", "",
             f"Sub-text candidate sets for {ds['n_classes']} of the {ds['n_classes_in_list']} "
             f"classes of `{ds['name']}` (class list sha256 `{ds['class_list_sha256'][:16]}…`), "
             f"one set per class selected by text prompt perplexity (TPP, encoder "
             f"`{manifest['tpp']['encoder']}`). Format: docs/corpus-format.md of subtext.", "",
             "## Sources", ""]
    lines += [f"- `{src['id']}`: {_source_line(src)}" for src in manifest["sources"]]
    counts = manifest["counts"]
    lines += ["", f"Semantic units (ASU): {counts.get('units', 0)} in four kinds; entities "
              f"(ALT): {counts.get('entities', 0)}, single words sense-disambiguated on "
              f"WordNet 3.0 (method `{manifest['knowledge'].get('wsd_method')}`).",
              "", "## Encoders", ""]
    for e in encoders:
        lines.append(f"- `{e['id']}`: {e['model']}, weights **{e['weights']}**"
                     + (" (random: for smoke tests only, not semantically meaningful)"
                        if e["weights"] == "random" else ""))
    lines += ["", "## Known limitations", "",
              "- Text from the embedded SmolLM2-135M model proves the pipeline's format, "
              "not its content: its sub-texts are often echoes of the class name.",
              "- TPP with the paper's scaling functions rewards relatedness and penalises "
              "diversity; degenerate sets are rejected before scoring (see rejected_reason).",
              ""]
    return "\n".join(lines)
