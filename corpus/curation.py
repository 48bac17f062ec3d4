"""Per-class curation records (`data/curated/<dataset>.curation.json`): how each class's
text was written, which lint rules it passed, and when it was last revised.

Written by `subtext corpus lint-curated --write-records` from a lint run; a class keeps
its revision number and date while its text is unchanged (same digest) and gets the
next revision, dated today, when it changed. Bundles copy the records of their classes
into the manifest (the `curated/units` source's `curation`).
"""

import dataclasses
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

from corpus.curated import CURATED_PROVENANCE, CuratedClass, CuratedText, curation_path
from corpus.curated_lint import RULES, LintResult


def class_text_sha256(entry: CuratedClass) -> str:
    """Digest of everything a class record says (sets, units, roles, overrides)."""
    blob = json.dumps(dataclasses.asdict(entry), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def curation_records(curated: CuratedText, result: LintResult, today: str,
                     previous: dict[str, dict] | None = None) -> dict:
    previous = previous or {}
    classes = {}
    for name, entry in curated.classes.items():
        digest = class_text_sha256(entry)
        before = previous.get(name, {})
        unchanged = before.get("text_sha256") == digest
        failed = result.failed_rules(name)
        # the gate's margin per encoder and set: own-label similarity minus the best
        # sibling's (the set passes when it is positive)
        margins = {g.encoder: {s.perspective: round(s.margin, 3) for s in g.sets
                               if s.name == name}
                   for g in result.gates}
        classes[name] = {
            "written": CURATED_PROVENANCE,
            "revision": before.get("revision", 0) + (0 if unchanged else 1),
            "revised": before.get("revised", today) if unchanged else today,
            "text_sha256": digest,
            "rules_failed": sorted(failed),
            "gate_margin": margins,
        }
    return {
        "dataset": curated.dataset,
        "provenance": CURATED_PROVENANCE,
        "generated_by": "subtext corpus lint-curated --write-records",
        # every class was linted with all of these; `rules_failed` names any it failed
        "rules": {r: RULES[r].doc for r in result.problems},
        "exempt": result.report()["exempt"],
        "classes": classes,
    }


def write_curation(curated: CuratedText, result: LintResult, today: str | None = None) -> Path:
    path = curation_path(curated.path)
    today = today or datetime.now(UTC).date().isoformat()
    records = curation_records(curated, result, today, curated.curation)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(records, indent=1, ensure_ascii=False) + "\n")
    tmp.replace(path)  # never a half-written records file
    return path
