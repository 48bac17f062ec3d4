"""`subtext corpus export`: a bundle's candidate sets in another project's file format.

Each format's `export` writes the byte-level shape that project reads (docs/sharing.md);
`import` of the file gives back the same texts. By default every valid set (one that
TPP scored) and every class-text augmentation (one sentence, e.g. FROSTER's) of every
source is written, in candidate order; `source` keeps one source's
sets and `selected_only` the one set TPP chose per class. The file is written next to
its destination and renamed into place, so a failed export leaves no partial file.
"""

import os
import tempfile
from pathlib import Path

from corpus import store
from corpus.errors import SubtextError
from corpus.formats.base import FORMATS, ExportClass
from corpus.subtexts import is_class_text


def bundle_sets(bundle: Path, source: str | None = None,
                selected_only: bool = False) -> list[ExportClass]:
    """The bundle's valid candidate sets and class-text augmentations per class, in class
    and candidate order."""
    bundle = Path(bundle)
    store.read_manifest(bundle)
    classes = store.read_table(bundle, "classes.parquet").to_pylist()
    rows = store.read_table(bundle, "subtexts.parquet").to_pylist()
    if source is not None and not any(r["source"] == source for r in rows):
        known = sorted({r["source"] for r in rows})
        raise SubtextError(f"bundle {bundle}: no source {source!r}; it has {', '.join(known)}")
    sets: dict[int, dict[int, tuple[str, list[tuple[int, str]]]]] = {}
    for r in rows:
        valid = r["tpp"] is not None or is_class_text(r)
        if not valid or (source is not None and r["source"] != source) or (
                selected_only and not r["selected"]):
            continue
        by_candidate = sets.setdefault(r["class_id"], {})
        by_candidate.setdefault(r["candidate_id"], (r["source"], []))[1].append(
            (r["position"], r["text"]))
    out = []
    for c in sorted(classes, key=lambda c: c["class_id"]):
        candidates = sets.get(c["class_id"], {})
        if not candidates:
            continue
        out.append(ExportClass(c["class_id"], c["name"], tuple(
            (src, tuple(t for _, t in sorted(texts)))
            for _, (src, texts) in sorted(candidates.items()))))
    if not out:
        raise SubtextError(f"bundle {bundle}: no valid candidate set to export"
                           + (f" from source {source!r}" if source else ""))
    return out


def export_bundle(bundle: Path, format: str, out_file: Path, source: str | None = None,
                  selected_only: bool = False) -> int:
    """Write the bundle's sets as `format` to out_file; returns the number of classes."""
    if format not in FORMATS:
        raise SubtextError(f"unknown export format {format!r}; choose one of "
                           f"{', '.join(FORMATS)}")
    classes = bundle_sets(bundle, source, selected_only)
    data = FORMATS[format].export(classes)
    out_file = Path(out_file)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out_file.name}.", dir=out_file.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)  # mkstemp's 0600 would become the file's mode
        os.replace(tmp, out_file)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(classes)
