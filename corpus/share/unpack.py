"""Unpack a bundle archive safely (docs/sharing.md, "Unpacking: the safety checks").

Unpacking never trusts the archive: every member name, type and size is checked while
streaming, the bundle is extracted into a temporary sibling and verified (checksums,
schema, cross-references) before it is moved into place.
"""

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

import contract
from contract.manifest import unsafe_name
from corpus import store
from corpus.errors import BundleError
from corpus.share.problems import problem_list
from corpus.verify import verify_bundle

_CHUNK = 1 << 20


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
            problems = manifest_problems or verify_bundle(root)
            if problems:
                raise BundleError(problem_list(
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
    if not (out_dir / contract.MANIFEST).is_file():
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
    if (staging / contract.MANIFEST).exists():
        return staging
    entries = list(staging.iterdir())
    if len(entries) == 1 and entries[0].is_dir() and (entries[0] / contract.MANIFEST).exists():
        return entries[0]
    return staging


def _manifest_problems(root: Path) -> list[str]:
    try:
        manifest = store.read_manifest(root)
    except BundleError as err:
        return [str(err).replace(f"bundle {root}: ", "")]
    unsafe = contract.unsafe_manifest_paths(manifest)
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
    why = unsafe_name(raw.rstrip("/") or ".")
    if why:
        raise BundleError(f"{where}: {why}; refusing to extract")
    parts = [p for p in PurePosixPath(raw).parts if p != "."]
    return "/".join(parts)
