"""`subtext corpus verify`: every problem in a bundle, against the contract and its manifest.

Checks checksums, sizes and row counts of every file, unlisted files, the table schemas,
class ids, selected sets, counts, knowledge cross-references and embedding rows.
"""

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from contract import MANIFEST, SET_KINDS, TABLE_SCHEMAS, embeddings_schema, file_sha256
from contract.manifest import unsafe_name
from corpus.errors import BundleError
from corpus.store import read_manifest, read_table
from corpus.subtexts import CLASS_TEXT, SHORT, is_class_text


def verify_bundle(bundle: Path) -> list[str]:
    """Every problem found in a bundle; an empty list means it is intact."""
    try:
        manifest = read_manifest(bundle)
    except BundleError as err:
        return [str(err)]
    problems = _verify_files(bundle, manifest)
    if problems:
        return problems  # content checks on damaged files would only repeat the cause
    return _verify_content(bundle, manifest)


def _verify_files(bundle: Path, manifest: dict) -> list[str]:
    problems = []
    listed = manifest.get("files", {})
    encoder_files = [e.get("file", "") for e in manifest.get("encoders", [])]
    outside = [rel for rel in [*listed, *encoder_files] if unsafe_name(rel)]
    if outside:
        # Checked before any file is opened: a manifest may not point outside its bundle.
        return [f"{rel}: manifest path leaves the bundle" for rel in outside]
    for rel, entry in sorted(listed.items()):
        path = bundle / rel
        if not path.is_file():
            problems.append(f"{rel}: listed in the manifest but missing")
            continue
        if path.stat().st_size != entry["bytes"]:
            problems.append(
                f"{rel}: {path.stat().st_size} bytes, manifest says {entry['bytes']} (truncated?)"
            )
        if file_sha256(path) != entry["sha256"]:
            problems.append(f"{rel}: sha256 does not match the manifest (modified or corrupt)")
            continue
        if entry["rows"] is not None:
            try:
                rows = pq.ParquetFile(path).metadata.num_rows
            except (OSError, pa.ArrowException) as err:
                problems.append(f"{rel}: not readable Parquet ({err})")
                continue
            if rows != entry["rows"]:
                problems.append(f"{rel}: {rows} rows, manifest says {entry['rows']}")
    on_disk = {p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file()}
    for rel in sorted(on_disk - set(listed) - {MANIFEST}):
        problems.append(f"{rel}: not listed in the manifest")
    for rel in TABLE_SCHEMAS:
        if rel not in listed:
            problems.append(f"{rel}: required file not listed in the manifest")
    return problems


def _check_schema(rel: str, table: pa.Table, expected: pa.Schema) -> list[str]:
    problems = []
    for field in expected:
        if field.name not in table.schema.names:
            problems.append(f"{rel}: missing column {field.name!r}")
        elif not table.schema.field(field.name).type.equals(field.type):
            problems.append(
                f"{rel}: column {field.name!r} is {table.schema.field(field.name).type}, "
                f"expected {field.type}"
            )
    return problems


def _verify_content(bundle: Path, manifest: dict) -> list[str]:
    tables = {rel: read_table(bundle, rel) for rel in TABLE_SCHEMAS}
    problems = []
    for rel, schema in TABLE_SCHEMAS.items():
        problems += _check_schema(rel, tables[rel], schema)
    if problems:
        return problems
    classes = tables["classes.parquet"].to_pylist()
    subtexts = tables["subtexts.parquet"].to_pylist()
    failures = tables["failures.parquet"].to_pylist()
    n = manifest["n_subtexts"]
    class_ids = [c["class_id"] for c in classes]
    if class_ids != list(range(len(classes))):
        problems.append("classes.parquet: class_id must run 0..C-1 in order")
    known = set(class_ids)
    for rel, rows in (("subtexts.parquet", subtexts), ("failures.parquet", failures)):
        stray = sorted({r["class_id"] for r in rows} - known)
        if stray:
            problems.append(f"{rel}: class_id {stray[:10]} not in classes.parquet")
    selected: dict[int, list[dict]] = {}
    for r in subtexts:
        if r["selected"]:
            selected.setdefault(r["class_id"], []).append(r)
        if r["set_kind"] not in SET_KINDS:
            problems.append(f"subtexts.parquet: class {r['class_id']} candidate "
                            f"{r['candidate_id']}: unknown set_kind {r['set_kind']!r}")
        elif (r["rejected_reason"] is None and r["tpp"] is None
                and r["set_kind"] != CLASS_TEXT):
            problems.append(f"subtexts.parquet: class {r['class_id']} candidate "
                            f"{r['candidate_id']} is neither rejected nor scored")
    for c in classes:
        rows = selected.get(c["class_id"], [])
        if c["status"] == "ok":
            ids = {r["candidate_id"] for r in rows}
            short = {r["set_kind"] for r in rows} == {SHORT}
            if ids != {c["selected_candidate"]} or not (
                    2 <= len(rows) < n if short else len(rows) == n):
                expected = f"2 to {n - 1}, a short set" if short else str(n)
                problems.append(f"class {c['class_id']} ({c['name']}): selected_candidate "
                                f"{c['selected_candidate']} does not match {len(rows)} "
                                f"selected sub-text rows (expected {expected})")
        elif c["status"] == "failed":
            if rows:
                problems.append(f"class {c['class_id']} ({c['name']}): failed but has a "
                                "selected set")
        else:
            problems.append(f"class {c['class_id']}: unknown status {c['status']!r}")
    counts = manifest["counts"]
    actual = {
        "classes": len(classes),
        "classes_ok": sum(c["status"] == "ok" for c in classes),
        "classes_failed": sum(c["status"] == "failed" for c in classes),
        "subtexts": len(subtexts),
    }
    for key, value in actual.items():
        if counts.get(key) != value:
            problems.append(f"manifest counts.{key} = {counts.get(key)}, bundle has {value}")
    problems += _verify_knowledge(tables, known)
    items = {"unit": tables["units.parquet"].column("unit_id").to_pylist(),
             "entity": tables["entities.parquet"].column("entity_id").to_pylist()}
    for encoder in manifest["encoders"]:
        problems += _verify_embeddings(bundle, encoder, classes, subtexts, items)
    return problems


def _verify_knowledge(tables: dict[str, pa.Table], class_ids: set[int]) -> list[str]:
    problems = []
    for items, links, key in (("units.parquet", "class_units.parquet", "unit_id"),
                              ("entities.parquet", "class_entities.parquet", "entity_id")):
        ids = tables[items].column(key).to_pylist()
        if len(set(ids)) != len(ids):
            problems.append(f"{items}: {key} repeats")
        stray = set(tables[links].column(key).to_pylist()) - set(ids)
        if stray:
            problems.append(f"{links}: {key} {sorted(stray)[:5]} not in {items}")
        bad = set(tables[links].column("class_id").to_pylist()) - class_ids
        if bad:
            problems.append(f"{links}: class_id {sorted(bad)[:5]} not in classes.parquet")
    return problems


def _verify_embeddings(bundle: Path, encoder: dict, classes: list[dict],
                       subtexts: list[dict], items: dict[str, list[str]]) -> list[str]:
    rel = encoder["file"]
    table = read_table(bundle, rel)
    problems = _check_schema(rel, table, embeddings_schema(encoder["dim"]))
    if problems:
        return problems
    rows = table.select(["kind", "class_id", "candidate_id", "position", "item_id",
                         "text"]).to_pylist()
    has_tokens = table.column("tokens").is_valid().to_pylist()
    index = {(r["kind"], r["class_id"], r["candidate_id"], r["position"], r["item_id"]):
             (r["text"], tok) for r, tok in zip(rows, has_tokens, strict=True)}
    expected = [(("class", c["class_id"], None, None, None), c["text"], True)
                for c in classes]
    expected += [
        (("subtext", s["class_id"], s["candidate_id"], s["position"], None), s["text"],
         s["selected"])
        for s in subtexts if s["tpp"] is not None
    ]
    expected += [(("class_text", s["class_id"], s["candidate_id"], s["position"], None),
                  s["text"], True)
                 for s in subtexts if is_class_text(s)]
    for kind, ids in items.items():
        seen = {k[4] for k in index if k[0] == kind}
        missing = [i for i in ids if i not in seen]
        if missing:
            problems.append(f"{rel}: no embedding for {len(missing)} {kind}(s), e.g. "
                            f"{missing[0]!r}")
    for key, text, needs_tokens in expected:
        if key not in index:
            problems.append(f"{rel}: no embedding for {key[0]} {key[1:]}")
            continue
        if index[key][0] != text:
            problems.append(f"{rel}: text of {key[0]} {key[1:]} differs from its table")
        if encoder["tokens"] and needs_tokens and not index[key][1]:
            problems.append(f"{rel}: no word embeddings for {key[0]} {key[1:]}")
    if len(index) != len(rows):
        problems.append(f"{rel}: repeated rows")
    return problems[:50]
