"""The corpus bundle store: the one place Parquet files and the manifest are written.

Format: the `contract` package and docs/corpus-format.md; checks: corpus/verify.py.
Writes are atomic (a temporary sibling directory, `manifest.json` written last, then
renamed into place) and serialised by a lock file, so a crash never leaves a half bundle
that looks complete.
"""

import contextlib
import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from contract import MANIFEST, TABLE_SCHEMAS, check_manifest, file_sha256
from corpus.errors import BundleError

__all__ = ["MANIFEST", "TABLE_SCHEMAS", "bundle_lock", "commit", "describe_files",
           "read_manifest", "read_table", "stage_copy", "staging_dir", "write_json",
           "write_table"]

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


# -- reading -------------------------------------------------------------------------

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
    problem = check_manifest(manifest)
    if problem:
        raise BundleError(f"bundle {bundle}: {problem}")
    return manifest


def read_table(bundle: Path, name: str) -> pa.Table:
    path = bundle / name
    try:
        return pq.read_table(path)
    except (OSError, pa.ArrowException) as err:
        raise BundleError(f"bundle {bundle}: {name} is not readable Parquet ({err})") from None
