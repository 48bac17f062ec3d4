"""The corpus bundle store: the one place Parquet files and the manifest are written and checked.

Format: docs/corpus-format.md. Writes are atomic (a temporary sibling directory,
`manifest.json` written last, then renamed into place) and serialised by a lock
file, so a crash never leaves a half bundle that looks complete.
"""

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from corpus.errors import BundleError

FORMAT = "subtext-corpus"
SCHEMA_VERSION = 1
MANIFEST = "manifest.json"

CLASSES_SCHEMA = pa.schema([
    ("class_id", pa.int32()), ("name", pa.string()), ("label", pa.string()),
    ("text", pa.string()), ("status", pa.string()), ("selected_candidate", pa.int32()),
])
SUBTEXTS_SCHEMA = pa.schema([
    ("class_id", pa.int32()), ("candidate_id", pa.int32()), ("source", pa.string()),
    ("source_kind", pa.string()), ("model", pa.string()), ("prompt_id", pa.string()),
    ("position", pa.int32()), ("text", pa.string()), ("sigma", pa.float64()),
    ("delta", pa.float64()), ("tpp", pa.float64()), ("selected", pa.bool_()),
    ("rejected_reason", pa.string()),
])
FAILURES_SCHEMA = pa.schema([
    ("class_id", pa.int32()), ("source", pa.string()), ("reason", pa.string()),
    ("attempts", pa.int32()),
])


_strings = pa.list_(pa.string())
UNITS_SCHEMA = pa.schema([
    ("unit_id", pa.string()), ("text", pa.string()), ("head", pa.string()),
    ("kind", pa.string()), ("kinds", _strings), ("n_words", pa.int32()),
    ("n_classes", pa.int32()), ("n_mentions", pa.int32()), ("sources", _strings),
    ("surface_forms", _strings),
])
CLASS_UNITS_SCHEMA = pa.schema([
    ("class_id", pa.int32()), ("unit_id", pa.string()), ("kind", pa.string()),
    ("score", pa.float64()), ("sources", _strings),
])
ENTITIES_SCHEMA = pa.schema([
    ("entity_id", pa.string()), ("text", pa.string()), ("kind", pa.string()),
    ("kind_source", pa.string()), ("source_kind", pa.string()), ("n_words", pa.int32()),
    ("synset", pa.string()), ("description", pa.string()),
    ("description_source", pa.string()), ("needs_description", pa.bool_()),
    ("wsd_method", pa.string()), ("wsd_confidence", pa.float64()),
    ("runner_up", pa.string()), ("lesk_synset", pa.string()),
    ("embedding_synset", pa.string()), ("sense_agreement", pa.float64()),
    ("n_classes", pa.int32()), ("sources", _strings),
])
CLASS_ENTITIES_SCHEMA = pa.schema([
    ("class_id", pa.int32()), ("entity_id", pa.string()), ("kind", pa.string()),
    ("score", pa.float64()), ("sources", _strings), ("synset", pa.string()),
])
UNIT_REJECTIONS_SCHEMA = pa.schema([
    ("class_id", pa.int32()), ("source", pa.string()), ("kind", pa.string()),
    ("raw", pa.string()), ("reason", pa.string()),
])


def embeddings_schema(dim: int) -> pa.Schema:
    vector = pa.list_(pa.float32(), dim)
    return pa.schema([
        ("kind", pa.string()), ("class_id", pa.int32()), ("candidate_id", pa.int32()),
        ("position", pa.int32()), ("item_id", pa.string()), ("text", pa.string()),
        ("pooled", vector),
        ("tokens", pa.list_(vector)), ("token_ids", pa.list_(pa.int32())),
    ])


TABLE_SCHEMAS = {
    "classes.parquet": CLASSES_SCHEMA,
    "subtexts.parquet": SUBTEXTS_SCHEMA,
    "failures.parquet": FAILURES_SCHEMA,
    "units.parquet": UNITS_SCHEMA,
    "class_units.parquet": CLASS_UNITS_SCHEMA,
    "entities.parquet": ENTITIES_SCHEMA,
    "class_entities.parquet": CLASS_ENTITIES_SCHEMA,
    "unit_rejections.parquet": UNIT_REJECTIONS_SCHEMA,
}


def embeddings_file(encoder_id: str) -> str:
    return f"embeddings/{encoder_id}.parquet"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_table(path: Path, table: pa.Table) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression="zstd")


def write_json(path: Path, data: Any) -> None:
    with path.open("w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, sort_keys=True, ensure_ascii=False)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())


@contextlib.contextmanager
def bundle_lock(out: Path) -> Iterator[None]:
    """One writer per bundle: a second one fails at once with a clear message."""
    out.parent.mkdir(parents=True, exist_ok=True)
    lock_path = out.parent / f"{out.name}.lock"
    with lock_path.open("a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            raise BundleError(
                f"bundle {out} is being written by {holder} (lock {lock_path}); "
                "wait for it to finish or choose another OUT"
            ) from None
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()}")
        f.flush()
        try:
            yield
        finally:
            f.seek(0)
            f.truncate()
            fcntl.flock(f, fcntl.LOCK_UN)


def staging_dir(out: Path) -> Path:
    """A fresh temporary sibling of `out` to write a bundle into."""
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    return tmp


def describe_files(root: Path) -> dict[str, dict]:
    """sha256, rows and bytes of every file in a bundle except the manifest."""
    files = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name != MANIFEST):
        rel = path.relative_to(root).as_posix()
        entry = {"sha256": file_sha256(path), "bytes": path.stat().st_size, "rows": None}
        if path.suffix == ".parquet":
            entry["rows"] = pq.ParquetFile(path).metadata.num_rows
        files[rel] = entry
    return files


def commit(staging: Path, out: Path, manifest: dict) -> None:
    """Write the manifest last, then move the staged bundle into place."""
    manifest = {**manifest, "files": describe_files(staging)}
    write_json(staging / MANIFEST, manifest)
    if out.exists():
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        os.rename(out, old)
        os.rename(staging, out)
        shutil.rmtree(old)
    else:
        os.rename(staging, out)


def stage_copy(bundle: Path) -> Path:
    """A staging copy of an existing bundle (hard links: nothing is rewritten in place)."""
    staging = staging_dir(bundle)
    shutil.rmtree(staging)
    shutil.copytree(bundle, staging, copy_function=os.link)
    (staging / MANIFEST).unlink()
    return staging


# -- reading and verifying -----------------------------------------------------------

def read_manifest(bundle: Path) -> dict:
    path = bundle / MANIFEST
    if not bundle.is_dir():
        raise BundleError(f"bundle {bundle}: no such directory")
    if not path.is_file():
        raise BundleError(f"bundle {bundle}: no {MANIFEST} (an incomplete or foreign directory)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise BundleError(f"bundle {bundle}: {MANIFEST} is not valid JSON ({err})") from None
    if manifest.get("format") != FORMAT:
        raise BundleError(f"bundle {bundle}: {MANIFEST} is not a {FORMAT} manifest")
    if manifest.get("schema_version") != SCHEMA_VERSION:
        raise BundleError(
            f"bundle {bundle}: schema version {manifest.get('schema_version')!r}; "
            f"this subtext reads version {SCHEMA_VERSION}"
        )
    return manifest


def read_table(bundle: Path, name: str) -> pa.Table:
    path = bundle / name
    try:
        return pq.read_table(path)
    except (OSError, pa.ArrowException) as err:
        raise BundleError(f"bundle {bundle}: {name} is not readable Parquet ({err})") from None


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
    outside = [rel for rel in [*listed, *encoder_files] if _escapes(rel)]
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


def _escapes(rel: str) -> bool:
    parts = Path(rel).parts
    return not rel or Path(rel).is_absolute() or ".." in parts or "\\" in rel


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
        if r["rejected_reason"] is None and r["tpp"] is None:
            problems.append(f"subtexts.parquet: class {r['class_id']} candidate "
                            f"{r['candidate_id']} is neither rejected nor scored")
    for c in classes:
        rows = selected.get(c["class_id"], [])
        if c["status"] == "ok":
            ids = {r["candidate_id"] for r in rows}
            if ids != {c["selected_candidate"]} or len(rows) != n:
                problems.append(f"class {c['class_id']} ({c['name']}): selected_candidate "
                                f"{c['selected_candidate']} does not match {len(rows)} "
                                f"selected sub-text rows (expected {n})")
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
