"""Pack a bundle into one deterministic archive (docs/sharing.md).

An archive is a gzip-compressed POSIX tar whose bytes depend only on the bundle's bytes
(sorted members, fixed metadata, gzip header without a name or time), so two labs can
compare archives by their sha256.
"""

import gzip
import hashlib
import os
import tarfile
import tempfile
from pathlib import Path
from typing import BinaryIO

import contract
from corpus.errors import BundleError
from corpus.share.problems import problem_list
from corpus.store import read_manifest
from corpus.verify import verify_bundle

MEMBER_MODE = 0o644
GZIP_LEVEL = 6
_CHUNK = 1 << 20


def pack_bundle(bundle: Path, out_file: Path) -> Path:
    """Verify `bundle`, then write it as one deterministic `.tar.gz` to `out_file` atomically."""
    bundle, out_file = Path(bundle), Path(out_file)
    problems = verify_bundle(bundle)
    if problems:
        raise BundleError(problem_list(f"bundle {bundle} does not verify; refusing to pack it",
                                        problems))
    manifest = read_manifest(bundle)
    unsafe = contract.unsafe_manifest_paths(manifest)
    if unsafe:
        raise BundleError(f"bundle {bundle}: manifest lists paths outside the bundle: {unsafe}")
    if out_file.resolve().is_relative_to(bundle.resolve()):
        raise BundleError(f"archive {out_file} would be written inside the bundle {bundle}; "
                          "choose a path outside it")
    members = [contract.MANIFEST, *sorted(manifest["files"])]
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
                    expected = None if rel == contract.MANIFEST else manifest["files"][rel]
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
