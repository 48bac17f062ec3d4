"""Sharing bundles between labs: pack into one deterministic archive, unpack safely, diff.

Format and safety checks: docs/sharing.md. An archive is a gzip-compressed POSIX tar
whose bytes depend only on the bundle's bytes (sorted members, fixed metadata, gzip
header without a name or time), so two labs can compare archives by their sha256.
Unpacking never trusts the archive: every member name, type and size is checked while
streaming, the bundle is extracted into a temporary sibling and verified (checksums,
schema, cross-references) before it is moved into place.
"""

import gzip
import hashlib
import io
import os
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from corpus import bundle as store
from corpus.errors import BundleError

# Fixed member metadata: the archive must not record who packed it, when, or with what umask.
MEMBER_MODE = 0o644
GZIP_LEVEL = 6
_CHUNK = 1 << 20


# -- pack ----------------------------------------------------------------------------

def pack_bundle(bundle: Path, out_file: Path) -> Path:
    """Verify `bundle`, then write it as one deterministic `.tar.gz` to `out_file` atomically."""
    bundle, out_file = Path(bundle), Path(out_file)
    problems = store.verify_bundle(bundle)
    if problems:
        raise BundleError(_problem_list(f"bundle {bundle} does not verify; refusing to pack it",
                                        problems))
    manifest = store.read_manifest(bundle)
    unsafe = unsafe_manifest_paths(manifest)
    if unsafe:
        raise BundleError(f"bundle {bundle}: manifest lists paths outside the bundle: {unsafe}")
    if out_file.resolve().is_relative_to(bundle.resolve()):
        raise BundleError(f"archive {out_file} would be written inside the bundle {bundle}; "
                          "choose a path outside it")
    members = [store.MANIFEST, *sorted(manifest["files"])]
    out_file.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out_file.name}.", suffix=".tmp",
                                    dir=out_file.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as raw:
            # filename="" and mtime=0 keep the packer's file name and clock out of the header.
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=GZIP_LEVEL,
                               mtime=0) as gz, \
                    tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
                for rel in members:
                    expected = None if rel == store.MANIFEST else manifest["files"][rel]
                    _add_member(tar, bundle, rel, expected)
            raw.flush()
            os.fsync(raw.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, out_file)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out_file


def _add_member(tar: tarfile.TarFile, bundle: Path, rel: str, expected: dict | None) -> None:
    path = bundle / rel
    info = tarfile.TarInfo(rel)
    info.size = path.stat().st_size
    info.mtime = 0  # an int: a float mtime would add a pax record
    info.mode = MEMBER_MODE
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.type = tarfile.REGTYPE
    with path.open("rb") as f:
        reader = _HashingReader(f)
        tar.addfile(info, reader)
    # The bundle verified a moment ago; a writer that changed it since must not slip through.
    if expected is not None and (reader.digest() != expected["sha256"]
                                 or info.size != expected["bytes"]):
        raise BundleError(f"bundle {bundle}: {rel} changed while it was being packed; "
                          "is another process writing the bundle?")


class _HashingReader:
    def __init__(self, f: BinaryIO) -> None:
        self._f = f
        self._sha = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self._f.read(size)
        self._sha.update(data)
        return data

    def digest(self) -> str:
        return self._sha.hexdigest()


def unsafe_manifest_paths(manifest: dict) -> list[str]:
    """Manifest paths that would resolve outside the bundle (`..`, absolute, backslashes)."""
    paths = list(manifest.get("files", {}))
    paths += [e.get("file", "") for e in manifest.get("encoders", []) if isinstance(e, dict)]
    return sorted({p for p in paths if _unsafe_name(p)})


def _unsafe_name(name: str) -> str | None:
    """Why a member name could escape the extraction directory, or None if it is safe."""
    if not isinstance(name, str) or not name:
        return "empty name"
    if "\\" in name or "\x00" in name:
        return "backslash or NUL in the name"
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "absolute path"
    if ".." in PurePosixPath(name).parts:
        return "path traversal ('..')"
    return None


# -- unpack --------------------------------------------------------------------------

@dataclass(frozen=True)
class UnpackLimits:
    """Generous defaults: a Kinetics-700 bundle with word embeddings of three encoders fits."""

    max_member_bytes: int = 8 << 30
    max_total_bytes: int = 32 << 30
    max_members: int = 10_000


@dataclass(frozen=True)
class _Member:
    name: str  # normalised, relative, '/'-separated
    is_dir: bool
    size: int


def unpack_bundle(archive: Path, out_dir: Path, *, overwrite: bool = False,
                  limits: UnpackLimits = UnpackLimits()) -> Path:
    """Extract a bundle archive (.tar, .tar.gz/.bz2/.xz or .zip) into `out_dir`, verified.

    Nothing appears at `out_dir` unless every member passed the checks and the extracted
    bundle verifies. An existing non-empty `out_dir` is replaced only with `overwrite`, and
    only if it is itself a bundle (a directory with a manifest.json).
    """
    archive, out_dir = Path(archive), Path(out_dir)
    if not archive.is_file():
        raise BundleError(f"archive {archive}: no such file")
    _check_target(archive, out_dir, overwrite)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with store.bundle_lock(out_dir):
        staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.unpack-", dir=out_dir.parent))
        os.chmod(staging, 0o777 & ~_umask())  # mkdtemp's 0700 would become the bundle's mode
        try:
            _extract(archive, staging, limits)
            root = _bundle_root(staging)
            manifest_problems = _manifest_problems(root)
            problems = manifest_problems or store.verify_bundle(root)
            if problems:
                raise BundleError(_problem_list(
                    f"archive {archive}: the bundle inside does not verify; nothing was "
                    f"written to {out_dir}", problems))
            _check_target(archive, out_dir, overwrite)  # again: it may have appeared meanwhile
            _move_into_place(root, out_dir)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return out_dir


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _check_target(archive: Path, out_dir: Path, overwrite: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise BundleError(f"cannot unpack {archive}: {out_dir} exists and is not a directory")
    if not out_dir.is_dir() or not any(out_dir.iterdir()):
        return
    if not overwrite:
        raise BundleError(f"cannot unpack {archive}: {out_dir} exists and is not empty "
                          "(pass overwrite / --force to replace the bundle there)")
    if not (out_dir / store.MANIFEST).is_file():
        raise BundleError(f"cannot unpack {archive}: {out_dir} is not empty and is not a "
                          "bundle; refusing to replace it even with overwrite")


def _move_into_place(root: Path, out_dir: Path) -> None:
    if out_dir.is_dir() and any(out_dir.iterdir()):
        old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
        old.rmdir()
        os.rename(out_dir, old)
        os.rename(root, out_dir)
        shutil.rmtree(old)
        return
    if out_dir.is_dir():
        out_dir.rmdir()
    os.rename(root, out_dir)


def _bundle_root(staging: Path) -> Path:
    """The extracted bundle: the staging dir, or its only sub-directory for an archive
    made by hand with a top-level folder (`tar czf b.tgz my-bundle/`)."""
    if (staging / store.MANIFEST).exists():
        return staging
    entries = list(staging.iterdir())
    if len(entries) == 1 and entries[0].is_dir() and (entries[0] / store.MANIFEST).exists():
        return entries[0]
    return staging


def _manifest_problems(root: Path) -> list[str]:
    try:
        manifest = store.read_manifest(root)
    except BundleError as err:
        return [str(err).replace(f"bundle {root}: ", "")]
    unsafe = unsafe_manifest_paths(manifest)
    return [f"manifest lists paths outside the bundle: {unsafe}"] if unsafe else []


def _extract(archive: Path, dest: Path, limits: UnpackLimits) -> None:
    seen: dict[str, str] = {}  # casefolded name -> name: case-insensitive disks collide too
    total = 0
    count = 0
    for member, stream in _members(archive):
        count += 1
        where = f"archive {archive}: member {member.name!r}"
        if count > limits.max_members:
            raise BundleError(f"archive {archive}: more than {limits.max_members} members")
        key = member.name.casefold()
        if key in seen:
            raise BundleError(f"{where}: appears more than once (duplicate of {seen[key]!r})")
        seen[key] = member.name
        target = dest / member.name
        if member.is_dir:
            _mkdir(target, where)
            continue
        if member.size > limits.max_member_bytes:
            raise BundleError(f"{where}: {member.size} bytes is over the per-member limit of "
                              f"{limits.max_member_bytes}")
        total += member.size
        if total > limits.max_total_bytes:
            raise BundleError(f"archive {archive}: members total more than "
                              f"{limits.max_total_bytes} bytes (limit)")
        _mkdir(target.parent, where)
        _write_member(stream, target, member.size, where)


def _mkdir(path: Path, where: str) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise BundleError(f"{where}: clashes with a file of the same name") from None


def _write_member(stream: BinaryIO, target: Path, size: int, where: str) -> None:
    written = 0
    try:
        # "xb": never follow or replace anything already there.
        with target.open("xb") as out:
            while block := stream.read(_CHUNK):
                written += len(block)
                if written > size:
                    raise BundleError(f"{where}: holds more data than its declared {size} bytes")
                out.write(block)
    except (FileExistsError, IsADirectoryError, NotADirectoryError):
        raise BundleError(f"{where}: clashes with another member of the same path") from None
    if written != size:
        raise BundleError(f"{where}: {written} bytes, the archive declared {size} (truncated?)")


def _members(archive: Path) -> Iterator[tuple[_Member, BinaryIO]]:
    """Checked members with their data streams, in archive order."""
    with archive.open("rb") as f:
        head = f.read(4)
    if head.startswith(b"PK"):
        yield from _zip_members(archive)
    else:
        yield from _tar_members(archive)


_READ_ERRORS = (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, OSError,
                ValueError)


def _tar_members(archive: Path) -> Iterator[tuple[_Member, BinaryIO]]:
    try:
        # Stream mode ("r|*"): one pass, so a bad member stops us before later data is read.
        with tarfile.open(archive, mode="r|*") as tar:
            for info in tar:
                where = f"archive {archive}: member {info.name!r}"
                name = _checked_name(info.name, where)
                if info.type == tarfile.DIRTYPE:
                    if name:
                        yield _Member(name, True, 0), io.BytesIO()
                    continue
                if info.type not in (tarfile.REGTYPE, tarfile.AREGTYPE):
                    raise BundleError(f"{where}: is a {_tar_kind(info)}; only regular files "
                                      "are allowed")
                if not name:
                    raise BundleError(f"{where}: a file without a name")
                stream = tar.extractfile(info)
                assert stream is not None  # regular files always have data
                yield _Member(name, False, info.size), stream
    except BundleError:
        raise
    except _READ_ERRORS as err:
        raise BundleError(f"archive {archive}: not a readable tar or zip archive "
                          f"({type(err).__name__}: {err})") from None


def _tar_kind(info: tarfile.TarInfo) -> str:
    if info.issym():
        return f"symbolic link (to {info.linkname!r})"
    if info.islnk():
        return f"hard link (to {info.linkname!r})"
    if info.ischr() or info.isblk():
        return "device"
    if info.isfifo():
        return "FIFO"
    return f"tar member of type {info.type!r}"


def _zip_members(archive: Path) -> Iterator[tuple[_Member, BinaryIO]]:
    try:
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                where = f"archive {archive}: member {info.filename!r}"
                name = _checked_name(info.filename, where)
                mode = info.external_attr >> 16
                kind = stat.S_IFMT(mode)
                if info.is_dir():
                    if kind and kind != stat.S_IFDIR:
                        raise BundleError(f"{where}: is not a plain directory")
                    if name:
                        yield _Member(name, True, 0), io.BytesIO()
                    continue
                if kind and kind != stat.S_IFREG:
                    what = "symbolic link" if stat.S_ISLNK(mode) else "special file"
                    raise BundleError(f"{where}: is a {what}; only regular files are allowed")
                if info.flag_bits & 0x1:
                    raise BundleError(f"{where}: is encrypted")
                with zf.open(info) as stream:
                    yield _Member(name, False, info.file_size), stream
    except BundleError:
        raise
    except _READ_ERRORS as err:
        raise BundleError(f"archive {archive}: not a readable tar or zip archive "
                          f"({type(err).__name__}: {err})") from None


def _checked_name(raw: str, where: str) -> str:
    """A member name as a safe relative path ('' for the archive's root directory)."""
    why = _unsafe_name(raw.rstrip("/") or ".")
    if why:
        raise BundleError(f"{where}: {why}; refusing to extract")
    parts = [p for p in PurePosixPath(raw).parts if p != "."]
    return "/".join(parts)


def _problem_list(head: str, problems: list[str], shown: int = 10) -> str:
    lines = [f"{head}:"] + [f"  {p}" for p in problems[:shown]]
    if len(problems) > shown:
        lines.append(f"  … and {len(problems) - shown} more")
    return "\n".join(lines)


# -- diff ----------------------------------------------------------------------------

# Differences below this are float noise from another BLAS, not a change of content.
TPP_TOLERANCE = 1e-9
# Manifest keys that differ between two builds of identical content.
_VOLATILE_ENCODER_KEYS = frozenset({"file"})


def diff_bundles(a: Path, b: Path) -> dict:
    """What changed from bundle `a` to bundle `b`: classes, selected sub-texts, TPP,
    encoders, sources, prompts and settings. Every list is empty for equal content."""
    ma, mb = store.read_manifest(Path(a)), store.read_manifest(Path(b))
    ca, cb = _classes(Path(a)), _classes(Path(b))
    added = [n for n in cb if n not in ca]
    removed = [n for n in ca if n not in cb]
    common = [n for n in cb if n in ca]
    selected, tpp_changes = [], []
    for name in common:
        old, new = ca[name], cb[name]
        if (old["status"], old["source"], old["subtexts"]) != \
                (new["status"], new["source"], new["subtexts"]):
            selected.append({"class": name, "old": _selection(old), "new": _selection(new)})
        if _tpp_changed(old["tpp"], new["tpp"]):
            tpp_changes.append({"class": name, "old": old["tpp"], "new": new["tpp"],
                                "delta": _delta(old["tpp"], new["tpp"])})
    tpp_changes.sort(key=lambda c: (-abs(c["delta"]) if c["delta"] is not None else 0.0,
                                    c["class"]))
    return {
        "a": str(a),
        "b": str(b),
        "settings": _settings_changes(ma, mb),
        "classes": {"added": added, "removed": removed, "common": len(common)},
        "selected": selected,
        "tpp": {
            "mean_by_source": _mean_changes(ma["tpp"].get("mean_by_source", {}),
                                            mb["tpp"].get("mean_by_source", {})),
            "dataset_mean": (None if not _tpp_changed(ma["tpp"].get("dataset_mean"),
                                                      mb["tpp"].get("dataset_mean"))
                             else {"old": ma["tpp"].get("dataset_mean"),
                                   "new": mb["tpp"].get("dataset_mean")}),
            "by_class": tpp_changes,
        },
        "encoders": _keyed_changes(ma["encoders"], mb["encoders"], _VOLATILE_ENCODER_KEYS,
                                   ma, mb),
        "sources": _keyed_changes(ma["sources"], mb["sources"], frozenset(), ma, mb),
        "prompts": _dict_changes(ma.get("prompts") or {}, mb.get("prompts") or {}),
    }


def diff_is_empty(diff: dict) -> bool:
    return not (diff["settings"] or diff["classes"]["added"] or diff["classes"]["removed"]
                or diff["selected"] or diff["tpp"]["mean_by_source"]
                or diff["tpp"]["dataset_mean"] or diff["tpp"]["by_class"]
                or any(diff["encoders"].values()) or any(diff["sources"].values())
                or diff["prompts"])


def _classes(bundle: Path) -> dict[str, dict]:
    """Per class name (ids may shift between class lists): status and the selected set."""
    classes = store.read_table(bundle, "classes.parquet").to_pylist()
    rows = store.read_table(bundle, "subtexts.parquet").to_pylist()
    chosen: dict[int, list[dict]] = {}
    for r in rows:
        if r["selected"]:
            chosen.setdefault(r["class_id"], []).append(r)
    out = {}
    for c in classes:
        sel = sorted(chosen.get(c["class_id"], []), key=lambda r: r["position"])
        out[c["name"]] = {
            "status": c["status"],
            "source": sel[0]["source"] if sel else None,
            "tpp": sel[0]["tpp"] if sel else None,
            "subtexts": tuple(r["text"] for r in sel),
        }
    return out


def _selection(entry: dict) -> dict:
    return {"status": entry["status"], "source": entry["source"], "tpp": entry["tpp"],
            "subtexts": list(entry["subtexts"])}


def _tpp_changed(old: float | None, new: float | None) -> bool:
    if old is None or new is None:
        return old is not new
    return abs(old - new) > TPP_TOLERANCE


def _delta(old: float | None, new: float | None) -> float | None:
    return None if old is None or new is None else new - old


def _mean_changes(old: dict, new: dict) -> list[dict]:
    out = []
    for source in sorted(set(old) | set(new)):
        o, n = old.get(source), new.get(source)
        if _tpp_changed(o, n):
            out.append({"source": source, "old": o, "new": n, "delta": _delta(o, n)})
    return out


def _settings_changes(ma: dict, mb: dict) -> list[dict]:
    def settings(m: dict) -> dict:
        ds, tpp = m.get("dataset", {}), m.get("tpp", {})
        return {
            "dataset": ds.get("name"), "class_list_sha256": ds.get("class_list_sha256"),
            "n_classes": ds.get("n_classes"), "class_template": m.get("class_template"),
            "n_subtexts": m.get("n_subtexts"), "tpp.encoder": tpp.get("encoder"),
            "tpp.alpha": tpp.get("alpha"), "tpp.beta": tpp.get("beta"),
            "tpp.epsilon": tpp.get("epsilon"),
            "tpp.near_duplicate_cosine": tpp.get("near_duplicate_cosine"),
            "tpp.selection": tpp.get("selection"), "seed": m.get("seed"),
        }
    old, new = settings(ma), settings(mb)
    # The rest of the build config; keys reported above or by the encoder section are skipped.
    config = [c for c in _flat_changes(ma.get("config") or {}, mb.get("config") or {})
              if c["key"] not in old and c["key"] != "encoders"]
    return _dict_changes(old, new) + [{**c, "key": f"config.{c['key']}"} for c in config]


def _dict_changes(old: dict, new: dict) -> list[dict]:
    return [{"key": k, "old": old.get(k), "new": new.get(k)}
            for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]


def _keyed_changes(old: list[dict], new: list[dict], ignore: frozenset,
                   ma: dict, mb: dict) -> dict:
    """Entries matched by `id`: added, removed, and changed fields of the rest. For
    encoders the embeddings file's sha256 counts as a field too."""
    def index(entries: list[dict], m: dict) -> dict[str, dict]:
        out = {}
        for e in entries:
            fields = {k: v for k, v in e.items() if k not in ignore}
            if "file" in e and e["file"] in m.get("files", {}):
                fields["embeddings_sha256"] = m["files"][e["file"]]["sha256"]
            out[e["id"]] = fields
        return out
    io_, in_ = index(old, ma), index(new, mb)
    changed = []
    for key in [k for k in in_ if k in io_]:
        fields = _flat_changes(io_[key], in_[key])
        if fields:
            changed.append({"id": key, "fields": fields})
    return {"added": [k for k in in_ if k not in io_],
            "removed": [k for k in io_ if k not in in_],
            "changed": changed}


def _flat_changes(old: dict, new: dict, prefix: str = "") -> list[dict]:
    out = []
    for k in sorted(set(old) | set(new)):
        o, n = old.get(k), new.get(k)
        if isinstance(o, dict) and isinstance(n, dict):
            out += _flat_changes(o, n, f"{prefix}{k}.")
        elif o != n:
            out.append({"key": f"{prefix}{k}", "old": o, "new": n})
    return out


def render_diff(diff: dict, top: int = 10) -> str:
    """The diff as text for a terminal; `top` bounds the per-class TPP list."""
    lines = [f"--- {diff['a']}", f"+++ {diff['b']}"]
    if diff_is_empty(diff):
        lines.append("no differences in classes, selected sub-texts, TPP, encoders, sources, "
                     "prompts or settings")
        return "\n".join(lines)
    if diff["settings"]:
        lines.append("settings:")
        lines += [f"  {c['key']}: {_short(c['old'])} -> {_short(c['new'])}"
                  for c in diff["settings"]]
    cls = diff["classes"]
    lines.append(f"classes: {len(cls['added'])} added, {len(cls['removed'])} removed, "
                 f"{cls['common']} in both")
    lines += [f"  + {n}" for n in cls["added"]] + [f"  - {n}" for n in cls["removed"]]
    if diff["selected"]:
        lines.append(f"selected sub-texts changed in {len(diff['selected'])} class(es):")
        for c in diff["selected"]:
            old, new = c["old"], c["new"]
            lines.append(f"  {c['class']}: {_selection_head(old)} -> {_selection_head(new)}")
            lines += [f"    - {s}" for s in old["subtexts"]]
            lines += [f"    + {s}" for s in new["subtexts"]]
    tpp = diff["tpp"]
    if tpp["mean_by_source"] or tpp["dataset_mean"]:
        lines.append("mean TPP by source:")
        lines += [f"  {c['source']}: {_num(c['old'])} -> {_num(c['new'])}{_signed(c['delta'])}"
                  for c in tpp["mean_by_source"]]
        if tpp["dataset_mean"]:
            d = tpp["dataset_mean"]
            lines.append(f"  dataset mean of selected sets: {_num(d['old'])} -> "
                         f"{_num(d['new'])}{_signed(_delta(d['old'], d['new']))}")
    if tpp["by_class"]:
        shown = tpp["by_class"][:top]
        lines.append(f"largest per-class TPP changes ({len(shown)} of "
                     f"{len(tpp['by_class'])}):")
        lines += [f"  {c['class']}: {_num(c['old'])} -> {_num(c['new'])}{_signed(c['delta'])}"
                  for c in shown]
    for section in ("encoders", "sources"):
        change = diff[section]
        if not any(change.values()):
            continue
        lines.append(f"{section}:")
        lines += [f"  + {k}" for k in change["added"]] + [f"  - {k}" for k in change["removed"]]
        for c in change["changed"]:
            lines.append(f"  ~ {c['id']}: " + "; ".join(
                f"{f['key']} {_short(f['old'])} -> {_short(f['new'])}" for f in c["fields"]))
    if diff["prompts"]:
        lines.append("prompts:")
        lines += [f"  {c['key']}: {_short(c['old'])} -> {_short(c['new'])}"
                  for c in diff["prompts"]]
    return "\n".join(lines)


def _selection_head(sel: dict) -> str:
    if sel["status"] != "ok":
        return sel["status"]
    return f"{sel['source']} (TPP {_num(sel['tpp'])})"


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.4f}"


def _signed(d: float | None) -> str:
    return "" if d is None else f"  ({d:+.4f})"


def _short(value: object, width: int = 60) -> str:
    text = "-" if value is None else str(value)
    if len(text) == 64 and all(ch in "0123456789abcdef" for ch in text):
        return text[:12] + "…"  # a sha256
    return text if len(text) <= width else text[: width - 1] + "…"
