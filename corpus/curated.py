"""The `curated` source: reference text written and reviewed by the project's authors.

Format: docs/curated-format.md. The pipeline treats it like any other source — its
candidate sets are validated, scored by TPP and compete with LLM candidates — and
the linter keeps the files honest.
"""

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from contract import UNIT_KINDS
from corpus.classes import ActionClass, ClassList
from corpus.errors import SubtextError
from corpus.paths import data_dir
from corpus.subtexts import Candidate
from corpus.text import CURATED_MAX_JACCARD, added_content_words, jaccard, words

PERSPECTIVES = ("temporal_phases", "body_movements", "objects_and_scene")
SUBTEXT_WORDS = (4, 15)
UNIT_WORDS = (1, 4)
MIN_ADDED_WORDS = 2


@dataclass(frozen=True)
class CuratedClass:
    name: str
    candidates: dict[str, tuple[str, ...]]  # perspective -> sub-texts
    units: dict[str, tuple[str, ...]]
    roles: tuple[str, ...]


@dataclass(frozen=True)
class CuratedText:
    dataset: str
    path: Path
    sha256: str
    revision: dict
    classes: dict[str, CuratedClass] = field(repr=False)

    def perspectives(self) -> list[str]:
        seen = {p for c in self.classes.values() for p in c.candidates}
        return [p for p in PERSPECTIVES if p in seen] + sorted(seen - set(PERSPECTIVES))


def curated_path(dataset: str) -> Path:
    return data_dir() / "curated" / f"{dataset}.jsonl"


def load_curated(dataset: str, path: Path | None = None) -> CuratedText:
    path = path or curated_path(dataset)
    if not path.is_file():
        raise SubtextError(f"curated text {path}: no such file")
    raw = path.read_bytes()
    classes: dict[str, CuratedClass] = {}
    for line_no, line in enumerate(raw.decode("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            entry = CuratedClass(
                name=row["class"],
                candidates={c["perspective"]: tuple(c["subtexts"]) for c in row["candidates"]},
                units={k: tuple(v) for k, v in row.get("units", {}).items()},
                roles=tuple(row.get("roles", [])),
            )
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise SubtextError(f"curated text {path}: line {line_no}: malformed ({err})") from None
        if entry.name in classes:
            raise SubtextError(f"curated text {path}: line {line_no}: class {entry.name!r} repeats")
        classes[entry.name] = entry
    revisions_file = path.parent / "revisions.json"
    revisions = json.loads(revisions_file.read_text()) if revisions_file.is_file() else {}
    return CuratedText(dataset, path, hashlib.sha256(raw).hexdigest(),
                       revisions.get(dataset, {}), classes)


@dataclass
class CuratedSource:
    curated: CuratedText
    perspective: str
    kind: str = "curated"
    attempts: int = 1
    priority: int = 0

    @property
    def id(self) -> str:
        return f"curated/{self.perspective}"

    def covers(self, action: ActionClass) -> bool:
        entry = self.curated.classes.get(action.name)
        return entry is not None and self.perspective in entry.candidates

    def candidate(self, action: ActionClass) -> Candidate:
        entry = self.curated.classes.get(action.name)
        if entry is None or self.perspective not in entry.candidates:
            raise SubtextError(
                f"curated text {self.curated.path.name} has no {self.perspective} set for "
                f"class {action.name!r}"
            )
        return Candidate(action.class_id, self.id, self.kind, None, None,
                         entry.candidates[self.perspective])

    def describe(self) -> dict:
        return {
            "id": self.id,
            "kind": self.kind,
            "perspective": self.perspective,
            "file": f"data/curated/{self.curated.path.name}",
            "file_sha256": self.curated.sha256,
            "revision": self.curated.revision,
            "provenance": "written and reviewed by the subtext project's authors; "
            "not output of the pipeline's LLM sources",
            "priority": self.priority,
        }


def curated_sources(dataset: str, priority: int = 0) -> list[CuratedSource]:
    curated = load_curated(dataset)
    return [CuratedSource(curated, p, priority=priority) for p in curated.perspectives()]


def _n_words(text: str) -> int:
    return len(text.split())


def lint_curated(curated: CuratedText, classes: ClassList) -> list[str]:
    """Every problem in a curated file, each naming the class; empty when clean."""
    problems: list[str] = []
    expected = [c.name for c in classes.classes]
    missing = [n for n in expected if n not in curated.classes]
    extra = [n for n in curated.classes if n not in set(expected)]
    if missing:
        problems.append(f"missing classes ({len(missing)}): {', '.join(missing[:20])}")
    if extra:
        problems.append(f"classes not in the class list ({len(extra)}): {', '.join(extra[:20])}")
    if not missing and list(curated.classes) != expected:
        problems.append("classes are not in class-list order")
    labels = {c.name: c.label for c in classes.classes}
    for name, entry in curated.classes.items():
        problems += [f"{name}: {p}" for p in _lint_class(entry, labels.get(name, name))]
    return problems


def _lint_class(entry: CuratedClass, label: str) -> list[str]:
    problems = []
    if len(entry.candidates) < 2:
        problems.append(f"needs at least 2 candidate sets, has {len(entry.candidates)}")
    all_subtexts = []
    for perspective, subtexts in entry.candidates.items():
        if len(subtexts) != 4:
            problems.append(f"{perspective}: needs 4 sub-texts, has {len(subtexts)}")
        for s in subtexts:
            n = _n_words(s)
            if not SUBTEXT_WORDS[0] <= n <= SUBTEXT_WORDS[1]:
                problems.append(f"{perspective}: {n} words (allowed {SUBTEXT_WORDS}): {s!r}")
            if len(added_content_words(s, label)) < MIN_ADDED_WORDS:
                problems.append(f"{perspective}: restates the class name: {s!r}")
        all_subtexts += subtexts
    for i, a in enumerate(all_subtexts):
        for b in all_subtexts[i + 1 :]:
            if jaccard(a, b) >= CURATED_MAX_JACCARD:
                problems.append(f"near-duplicate sub-texts: {a!r} / {b!r}")
    unknown = sorted(set(entry.units) - set(UNIT_KINDS))
    if unknown:
        problems.append(f"unit kinds must be {UNIT_KINDS}, found {unknown}")
    for kind, units in [*entry.units.items(), ("roles", entry.roles)]:
        for u in units:
            if not UNIT_WORDS[0] <= len(words(u)) <= UNIT_WORDS[1] or u != u.lower():
                problems.append(f"{kind}: unit must be 1-4 lower-case words: {u!r}")
    return problems
