"""Sharing bundles: deterministic archives, unpacking that trusts nothing, and diffs.

Malicious archives are made with tarfile/zipfile directly, the way an attacker would.
"""

import gzip
import io
import json
import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest

from corpus.errors import BundleError
from corpus.share import (
    UnpackLimits,
    diff_bundles,
    diff_is_empty,
    pack_bundle,
    render_diff,
    unpack_bundle,
)
from corpus.verify import verify_bundle
from tests.corpus.conftest import build_curated_bundle


@pytest.fixture(scope="session")
def archive(curated_bundle, tmp_path_factory) -> Path:
    return pack_bundle(curated_bundle, tmp_path_factory.mktemp("archives") / "hmdb51.tar.gz")


@pytest.fixture(scope="session")
def changed_bundle(tmp_path_factory) -> Path:
    """Three classes instead of two, brush_hair's temporal_phases set gone, another
    class template and a second encoder: each section of a diff has something to say."""
    return build_curated_bundle(
        tmp_path_factory.mktemp("changed") / "hmdb51", classes=3,
        drop=frozenset({("brush_hair", "curated/temporal_phases")}),
        class_template="a video of a person: {}", encoder_seeds=(0, 1))


def members_of(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}


def write_tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def bundle_members(bundle: Path) -> list[tuple[tarfile.TarInfo, bytes]]:
    out = []
    for p in sorted(q for q in bundle.rglob("*") if q.is_file()):
        out.append((tarfile.TarInfo(p.relative_to(bundle).as_posix()), p.read_bytes()))
    return out


def no_leftovers(parent: Path, name: str) -> bool:
    """Neither the target nor a staging directory for it was left behind."""
    return not [p for p in parent.iterdir() if p.name.startswith((name, f".{name}"))
                and not p.name.endswith(".lock")]


# -- pack -------------------------------------------------------------------------------

def test_packing_twice_gives_identical_bytes(curated_bundle, archive, tmp_path):
    again = pack_bundle(curated_bundle, tmp_path / "again.tar.gz")
    assert again.read_bytes() == archive.read_bytes()


def test_the_archive_records_no_packer_time_owner_or_name(curated_bundle, archive, tmp_path):
    copy = tmp_path / "elsewhere-named-differently"
    shutil.copytree(curated_bundle, copy)  # new mtimes, another directory name
    for p in copy.rglob("*"):
        p.chmod(0o600 if p.is_file() else 0o700)
    assert pack_bundle(copy, tmp_path / "c.tgz").read_bytes() == archive.read_bytes()
    raw = archive.read_bytes()
    assert raw[:2] == b"\x1f\x8b" and raw[4:8] == b"\0\0\0\0"  # gzip mtime 0
    assert raw[3] & 0x08 == 0  # no FNAME field
    with tarfile.open(archive) as tar:
        infos = tar.getmembers()
    names = [m.name for m in infos]
    assert names[0] == "manifest.json" and names[1:] == sorted(names[1:])
    assert "embeddings/open_clip-subtext-tiny-random-seed0.parquet" in names
    assert all(m.isreg() and m.mtime == 0 and m.uid == m.gid == 0 and m.uname == m.gname == ""
               and m.mode == 0o644 and not m.pax_headers for m in infos)


def test_pack_unpack_pack_gives_the_same_bytes(archive, tmp_path):
    out = unpack_bundle(archive, tmp_path / "unpacked")
    assert verify_bundle(out) == []
    assert pack_bundle(out, tmp_path / "repacked.tar.gz").read_bytes() == archive.read_bytes()


def test_a_bundle_that_does_not_verify_is_not_packed(curated_bundle, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(curated_bundle, copy)
    data = bytearray((copy / "classes.parquet").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (copy / "classes.parquet").write_bytes(bytes(data))
    with pytest.raises(BundleError, match=r"(?s)does not verify.*classes.parquet: sha256"):
        pack_bundle(copy, tmp_path / "out.tar.gz")
    assert list(tmp_path.iterdir()) == [copy]


def test_the_archive_may_not_go_inside_the_bundle(curated_bundle):
    with pytest.raises(BundleError, match="inside the bundle"):
        pack_bundle(curated_bundle, curated_bundle / "self.tar.gz")
    assert verify_bundle(curated_bundle) == []


# -- unpack: what is refused ---------------------------------------------------------------

def _symlink() -> tarfile.TarInfo:
    info = tarfile.TarInfo("classes.parquet")
    info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
    return info


def _hardlink() -> tarfile.TarInfo:
    info = tarfile.TarInfo("classes.parquet")
    info.type, info.linkname = tarfile.LNKTYPE, "../../outside"
    return info


def _device() -> tarfile.TarInfo:
    info = tarfile.TarInfo("failures.parquet")
    info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
    return info


def _fifo() -> tarfile.TarInfo:
    info = tarfile.TarInfo("failures.parquet")
    info.type = tarfile.FIFOTYPE
    return info


@pytest.mark.parametrize(("member", "data", "message"), [
    (tarfile.TarInfo("../evil.txt"), b"x", r"'../evil.txt': path traversal"),
    (tarfile.TarInfo("embeddings/../../evil.txt"), b"x", r"path traversal"),
    (tarfile.TarInfo("/tmp/evil.txt"), b"x", r"'/tmp/evil.txt': absolute path"),
    (tarfile.TarInfo("..\\evil.txt"), b"x", r"backslash"),
    (_symlink(), None, r"'classes.parquet': is a symbolic link \(to '/etc/passwd'\)"),
    (_hardlink(), None, r"is a hard link"),
    (_device(), None, r"is a device"),
    (_fifo(), None, r"is a FIFO"),
])
def test_unpack_refuses_a_dangerous_member(curated_bundle, tmp_path, member, data, message):
    bad = write_tar(tmp_path / "bad.tar.gz",
                    [*bundle_members(curated_bundle), (member, data)])
    with pytest.raises(BundleError, match=rf"archive .*bad\.tar\.gz: member .*{message}"):
        unpack_bundle(bad, tmp_path / "out")
    assert no_leftovers(tmp_path, "out")
    assert not (tmp_path.parent / "evil.txt").exists()


def test_unpack_refuses_a_duplicate_member(curated_bundle, tmp_path):
    members = bundle_members(curated_bundle)
    bad = write_tar(tmp_path / "dup.tar.gz", [*members, members[0]])
    with pytest.raises(BundleError, match="appears more than once"):
        unpack_bundle(bad, tmp_path / "out")
    assert no_leftovers(tmp_path, "out")


def test_unpack_refuses_zip_traversal_and_symlinks(curated_bundle, tmp_path):
    traversal = tmp_path / "traversal.zip"
    with zipfile.ZipFile(traversal, "w") as zf:
        zf.writestr("manifest.json", (curated_bundle / "manifest.json").read_bytes())
        zf.writestr("../../evil.txt", b"x")
    with pytest.raises(BundleError, match=r"member '../../evil.txt': path traversal"):
        unpack_bundle(traversal, tmp_path / "out")
    link = tmp_path / "link.zip"
    with zipfile.ZipFile(link, "w") as zf:
        info = zipfile.ZipInfo("classes.parquet")
        info.external_attr = (0o120777 << 16)  # S_IFLNK
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(BundleError, match=r"member 'classes.parquet': is a symbolic link"):
        unpack_bundle(link, tmp_path / "out")
    assert no_leftovers(tmp_path, "out")


def test_unpack_refuses_oversized_members_and_archives(archive, tmp_path):
    biggest = max(len(b) for b in members_of(archive).values())
    with pytest.raises(BundleError, match=r"bytes is over the per-member limit of 1000"):
        unpack_bundle(archive, tmp_path / "out", limits=UnpackLimits(max_member_bytes=1000))
    with pytest.raises(BundleError, match=r"members total more than"):
        unpack_bundle(archive, tmp_path / "out",
                      limits=UnpackLimits(max_member_bytes=biggest, max_total_bytes=biggest))
    with pytest.raises(BundleError, match=r"more than 3 members"):
        unpack_bundle(archive, tmp_path / "out", limits=UnpackLimits(max_members=3))
    assert no_leftovers(tmp_path, "out")


def test_a_tampered_member_is_caught_before_the_directory_appears(archive, tmp_path):
    members = members_of(archive)
    data = bytearray(members["subtexts.parquet"])
    data[len(data) // 2] ^= 0xFF  # same size, other bytes: only the checksum can tell
    members["subtexts.parquet"] = bytes(data)
    bad = write_tar(tmp_path / "tampered.tar.gz",
                    [(tarfile.TarInfo(n), b) for n, b in members.items()])
    with pytest.raises(BundleError) as err:
        unpack_bundle(bad, tmp_path / "out")
    assert "tampered.tar.gz: the bundle inside does not verify" in str(err.value)
    assert "subtexts.parquet: sha256 does not match" in str(err.value)
    assert no_leftovers(tmp_path, "out")


def test_a_manifest_pointing_outside_the_bundle_is_refused(archive, tmp_path):
    members = members_of(archive)
    manifest = json.loads(members["manifest.json"])
    manifest["files"]["../../../etc/hostname"] = {"sha256": "0" * 64, "bytes": 1, "rows": None}
    members["manifest.json"] = json.dumps(manifest).encode()
    bad = write_tar(tmp_path / "escape.tar.gz",
                    [(tarfile.TarInfo(n), b) for n, b in members.items()])
    with pytest.raises(BundleError, match=r"manifest lists paths outside the bundle"):
        unpack_bundle(bad, tmp_path / "out")


def test_something_that_is_not_an_archive_gets_a_clear_error(tmp_path):
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(gzip.compress(b"not a tar file at all" * 10))
    with pytest.raises(BundleError, match=r"junk.tar.gz: not a readable tar or zip archive"):
        unpack_bundle(junk, tmp_path / "out")
    with pytest.raises(BundleError, match=r"no such file"):
        unpack_bundle(tmp_path / "missing.tar.gz", tmp_path / "out")


def test_an_archive_of_something_else_is_not_a_bundle(tmp_path):
    other = write_tar(tmp_path / "photos.tar.gz", [(tarfile.TarInfo("cat.jpg"), b"\xff\xd8")])
    with pytest.raises(BundleError, match=r"(?s)does not verify.*no manifest.json"):
        unpack_bundle(other, tmp_path / "out")
    assert no_leftovers(tmp_path, "out")


# -- unpack: where it goes -------------------------------------------------------------

def test_unpack_never_overwrites_without_being_told(archive, tmp_path):
    target = tmp_path / "bundle"
    unpack_bundle(archive, target)
    (target / "classes.parquet").write_bytes(b"old")
    with pytest.raises(BundleError, match="exists and is not empty"):
        unpack_bundle(archive, target)
    assert (target / "classes.parquet").read_bytes() == b"old"
    unpack_bundle(archive, target, overwrite=True)
    assert verify_bundle(target) == []
    assert no_leftovers(tmp_path, "bundle.")


def test_overwrite_replaces_only_a_bundle(archive, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.tex").write_text("precious")
    with pytest.raises(BundleError, match="is not a bundle; refusing to replace it"):
        unpack_bundle(archive, home, overwrite=True)
    assert (home / "thesis.tex").read_text() == "precious"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert verify_bundle(unpack_bundle(archive, empty)) == []


def test_archives_made_by_hand_unpack_too(curated_bundle, tmp_path):
    by_hand = tmp_path / "by-hand.tar.xz"
    with tarfile.open(by_hand, "w:xz") as tar:
        tar.add(curated_bundle, arcname="my-bundle")  # a top-level folder, directories too
    assert verify_bundle(unpack_bundle(by_hand, tmp_path / "a")) == []
    as_zip = tmp_path / "bundle.zip"
    with zipfile.ZipFile(as_zip, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(curated_bundle.rglob("*")):
            zf.write(p, p.relative_to(curated_bundle).as_posix())
    out = unpack_bundle(as_zip, tmp_path / "b")
    assert verify_bundle(out) == []
    assert oct(out.stat().st_mode & 0o777) != oct(0o700)  # not mkdtemp's private mode


# -- diff -------------------------------------------------------------------------------------

def test_a_bundle_has_no_differences_with_itself_or_its_unpacked_copy(curated_bundle, archive,
                                                                      tmp_path):
    assert diff_is_empty(diff_bundles(curated_bundle, curated_bundle))
    unpacked = unpack_bundle(archive, tmp_path / "copy")
    diff = diff_bundles(curated_bundle, unpacked)
    assert diff_is_empty(diff)
    assert "no differences" in render_diff(diff)


def test_diff_shows_classes_selection_tpp_encoders_and_settings(curated_bundle,
                                                                 changed_bundle):
    diff = diff_bundles(curated_bundle, changed_bundle)
    assert diff["classes"] == {"added": ["catch"], "removed": [], "common": 2}
    brush = next(c for c in diff["selected"] if c["class"] == "brush_hair")
    assert brush["old"]["source"] == "curated/temporal_phases"
    assert brush["new"]["source"] == "curated/body_movements"
    assert len(brush["old"]["subtexts"]) == len(brush["new"]["subtexts"]) == 4
    assert {c["class"] for c in diff["tpp"]["by_class"]} == {"brush_hair", "cartwheel"}
    assert {c["source"] for c in diff["tpp"]["mean_by_source"]} >= {"curated/temporal_phases"}
    assert diff["encoders"]["added"] == ["open_clip-subtext-tiny-random-seed1"]
    assert not diff["encoders"]["removed"]
    settings = {c["key"]: (c["old"], c["new"]) for c in diff["settings"]}
    assert settings["class_template"] == ("{}", "a video of a person: {}")
    assert settings["n_classes"] == (2, 3)

    text = render_diff(diff)
    assert "classes: 1 added, 0 removed, 2 in both\n  + catch" in text
    assert "brush_hair: curated/temporal_phases (TPP" in text
    for s in brush["old"]["subtexts"]:
        assert f"    - {s}" in text
    for s in brush["new"]["subtexts"]:
        assert f"    + {s}" in text
    assert "largest per-class TPP changes (2 of 2)" in text
    assert "  + open_clip-subtext-tiny-random-seed1" in text

    back = diff_bundles(changed_bundle, curated_bundle)
    assert back["classes"]["removed"] == ["catch"]
    assert back["encoders"]["removed"] == ["open_clip-subtext-tiny-random-seed1"]


def test_diff_shows_changed_encoder_weights(curated_bundle, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(curated_bundle, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["encoders"][0]["weights_sha256"] = "f" * 64
    (copy / "manifest.json").write_text(json.dumps(manifest))
    diff = diff_bundles(curated_bundle, copy)
    changed = diff["encoders"]["changed"]
    assert [c["id"] for c in changed] == ["open_clip-subtext-tiny-random-seed0"]
    assert [f["key"] for f in changed[0]["fields"]] == ["weights_sha256"]
    assert "~ open_clip-subtext-tiny-random-seed0: weights_sha256 " in render_diff(diff)


# -- the end-to-end bundle ------------------------------------------------------------------

@pytest.mark.slow
def test_the_llm_built_bundle_round_trips(bundle, tmp_path):
    first = pack_bundle(bundle, tmp_path / "a.tar.gz")
    out = unpack_bundle(first, tmp_path / "unpacked")
    assert pack_bundle(out, tmp_path / "b.tar.gz").read_bytes() == first.read_bytes()
    assert diff_is_empty(diff_bundles(bundle, out))
