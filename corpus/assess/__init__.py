"""Intrinsic, video-free assessment of a bundle's text (`subtext corpus assess`,
docs/assess.md).

- `measures`: retrieval ranks, confusions, echo and near-duplicate flags, token stats
  (pure functions of embeddings and strings).
- `intrinsic`: reads a verified bundle, embeds its texts through the embedding cache and
  measures every source; compares two assessments of the same classes.
- `report`: report.md, assessment.json and plots.

An assessment is written to OUT (`-o`), by default `<bundle>.assessment/` beside the
bundle: never inside it, whose files are checksummed by its manifest.
"""

import json
from collections.abc import Callable
from pathlib import Path

from corpus.errors import SubtextError

SUFFIX = ".assessment"


def default_out(bundle: Path) -> Path:
    return bundle.parent / f"{bundle.name}{SUFFIX}"


def assess_bundle(bundle: Path, out: Path | None = None, against: Path | None = None,
                  progress: Callable[[str], None] | None = None) -> dict:
    """Assess `bundle` (and `against`, on the same classes), write OUT; the record and
    the paths written. Every input is checked before anything is written."""
    from corpus.assess.intrinsic import assess, check_same_classes, compare
    from corpus.assess.report import write_outputs
    from corpus.encoders import EmbeddingCache

    if against:
        check_same_classes(bundle, against)
    cache = EmbeddingCache()
    record = assess(bundle, cache, progress)
    comparison = compare(record, assess(against, cache, progress)) if against else None
    out = out or default_out(bundle)
    paths = write_outputs(record, out, comparison)
    return {"assessment": record, "against": comparison, "out": str(out),
            "files": [str(p) for p in paths]}


def find_assessment(bundle: Path, where: str | None) -> Path:
    """assessment.json given as a file, a directory holding it, or (no `where`) the
    default `<bundle>.assessment/`."""
    from corpus.assess.report import ASSESSMENT

    path = Path(where) if where else default_out(bundle)
    if path.is_dir():
        path = path / ASSESSMENT
    if not path.is_file():
        hint = "" if where else f" (run: subtext corpus assess {bundle})"
        raise SubtextError(f"{path}: no assessment there{hint}")
    return path


def assessment_summary(bundle: Path, where: str | None) -> str:
    """The summary table of an existing assessment, with a note when the bundle changed."""
    from contract import MANIFEST, file_sha256
    from corpus.assess.report import summary_table

    path = find_assessment(bundle, where)
    try:
        a = json.loads(path.read_text(encoding="utf-8"))
        lines = [f"assessment {path} of {a['bundle']} ({a['assessed_at']})", "",
                 *summary_table(a)]
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as err:
        raise SubtextError(f"{path}: not an assessment written by subtext corpus assess "
                           f"({type(err).__name__}: {err})") from None
    manifest = bundle / MANIFEST
    if manifest.is_file() and file_sha256(manifest) != a.get("manifest_sha256"):
        lines.append(f"note: {bundle} changed since this assessment; rerun "
                     f"`subtext corpus assess {bundle}`")
    return "\n".join(lines)
