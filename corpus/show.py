"""`subtext corpus show`: a bundle's summary, or one class's candidate sets and TPP."""

from pathlib import Path

from corpus import store
from corpus.errors import SubtextError
from corpus.subtexts import SHORT, is_class_text


def show(bundle: Path, cls: str | None) -> str:
    manifest = store.read_manifest(bundle)
    classes = store.read_table(bundle, "classes.parquet").to_pylist()
    if cls is None:
        return _summary(manifest, classes)
    match = [c for c in classes if c["name"] == cls or str(c["class_id"]) == cls]
    if not match:
        raise SubtextError(f"bundle {bundle}: no class {cls!r} (names or ids 0..{len(classes)-1})")
    c = match[0]
    rows = [r for r in store.read_table(bundle, "subtexts.parquet").to_pylist()
            if r["class_id"] == c["class_id"]]
    lines = [f"{c['class_id']}: {c['name']} — text {c['text']!r} — {c['status']}"]
    lines += _curated_choice(rows)
    for cid in sorted({r["candidate_id"] for r in rows}):
        cand = [r for r in rows if r["candidate_id"] == cid]
        head = cand[0]
        mark = "*" if head["selected"] else " "
        score = (f"TPP {head['tpp']:.3f}" if head["tpp"] is not None
                 else "class-text augmentation" if is_class_text(head)
                 else f"rejected: {head['rejected_reason']}")
        if head.get("set_kind") == SHORT and head["tpp"] is not None:
            score += f" (short set of {len(cand)})"
        lines.append(f"{mark} [{cid}] {head['source']}  {score}")
        lines += [f"      {r['position']}. {r['text']}" for r in cand]
    failures = [f for f in store.read_table(bundle, "failures.parquet").to_pylist()
                if f["class_id"] == c["class_id"]]
    lines += [f"  failed {f['source']}: {f['reason']}" for f in failures]
    lines += _knowledge(bundle, c["class_id"])
    return "\n".join(lines)


def _curated_choice(rows: list[dict]) -> list[str]:
    """One line for TPP's choice among the class's curated perspectives: each set's TPP,
    and which perspective was selected (or that a set of another source won)."""
    heads = {r["candidate_id"]: r for r in rows}.values()
    curated = [r for r in heads if r["source_kind"] == "curated"]
    if not curated:
        return []
    parts = [f"{r['source'].removeprefix('curated/')} "
             + (f"{r['tpp']:.3f}" if r["tpp"] is not None else "rejected")
             for r in sorted(curated, key=lambda r: r["candidate_id"])]
    chosen = [r for r in heads if r["selected"]]
    won = ("selected " + chosen[0]["source"].removeprefix("curated/")
           if chosen and chosen[0]["source_kind"] == "curated"
           else f"selected {chosen[0]['source']} (not curated)" if chosen else "none selected")
    return [f"curated sets by TPP: {', '.join(parts)} -> {won}"]


def _knowledge(bundle: Path, class_id: int) -> list[str]:
    """The class's semantic units by kind, and its entities with their WordNet senses."""
    import duckdb

    units = duckdb.sql(
        f"select cu.kind, u.text from '{bundle}/class_units.parquet' cu join "
        f"'{bundle}/units.parquet' u using (unit_id) where cu.class_id = {class_id} "
        "order by cu.kind, cu.score desc, u.text").fetchall()
    lines = ["semantic units:"]
    for kind in sorted({k for k, _ in units}):
        lines.append(f"  {kind}: " + ", ".join(t for k, t in units if k == kind))
    entities = duckdb.sql(
        f"select ce.kind, e.text, ce.synset, ce.description "
        f"from '{bundle}/class_entities.parquet' ce join '{bundle}/entities.parquet' e "
        f"using (entity_id) where ce.class_id = {class_id} order by e.kind, e.text").fetchall()
    lines.append("entities:")
    for kind, text, synset, description in entities:
        sense = f" [{synset}]" if synset else ""
        about = f": {description}" if description else ""
        lines.append(f"  {kind:10s} {text}{sense}{about}")
    return lines


def _summary(manifest: dict, classes: list[dict]) -> str:
    ds, counts, tpp = manifest["dataset"], manifest["counts"], manifest["tpp"]
    lines = [
        f"dataset {ds['name']}: {ds['n_classes']} of {ds['n_classes_in_list']} classes, "
        f"{counts['classes_ok']} ok, {counts['classes_failed']} failed",
        f"created {manifest['created_at']}, schema {manifest['schema_version']}",
        f"TPP encoder {tpp['encoder']} (alpha {tpp['alpha']}, beta {tpp['beta']}), "
        f"dataset mean {tpp['dataset_mean']}",
    ]
    for source, mean in tpp["mean_by_source"].items():
        lines.append(f"  {source}: mean TPP {mean:.3f}, selected "
                     f"{tpp['selected_by_source'].get(source, 0)}")
    lines.append("encoders:")
    lines += [f"  {e['id']}: weights {e['weights']}, dim {e['dim']}, tokens {e['tokens']}"
              for e in manifest["encoders"]]
    return "\n".join(lines)
