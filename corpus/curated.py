"""The `curated` source: the project's reference text for HMDB-51, UCF-101, Kinetics-400.

How it was made is said in one sentence, `CURATED_PROVENANCE`, which every output
(manifest, dataset card, revision records, curation records, README, docs) repeats
verbatim so that it cannot drift. Format: docs/curated-format.md. The pipeline treats
it like any other source — its candidate sets are validated, scored by TPP and compete
with LLM candidates — and `corpus.curated_lint` keeps the files to the rules.
"""

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from contract import file_sha256
from corpus.aliases import spelling_keys
from corpus.classes import ActionClass, match_key
from corpus.errors import SubtextError
from corpus.paths import data_dir
from corpus.subtexts import Candidate

# The one true statement of where the curated text comes from (a test greps the repository
# for any other wording). Nobody watched videos to check it, and nobody but its linter
# reviewed it: a researcher citing it must be told exactly that.
CURATED_PROVENANCE = (
    "Written by the subtext project's developers with language models, linted by the "
    "project's own rules (subtext corpus lint-curated), and not checked against video; "
    "no human reviewed it."
)

# Every class has exactly these three candidate sets, in this order (docs/curated-format.md).
PERSPECTIVES = ("temporal_phases", "body_movements", "objects_and_scene")


@dataclass(frozen=True)
class CuratedClass:
    name: str
    candidates: dict[str, tuple[str, ...]]  # perspective -> sub-texts
    units: dict[str, tuple[str, ...]]
    roles: tuple[str, ...]
    # unit text -> why its kind is right although WordNet's lexicographer file disagrees
    unit_overrides: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CuratedText:
    dataset: str
    path: Path
    sha256: str
    revision: dict
    classes: dict[str, CuratedClass] = field(repr=False)
    # class name -> curation record (data/curated/<dataset>.curation.json), when generated
    curation: dict[str, dict] = field(default_factory=dict, repr=False)
    curation_sha256: str | None = None

    def lookup(self, name: str) -> "CuratedClass | None":
        """The class's entry by its exact name, else by another spelling of it: a class list
        may spell a class as a later dataset version does (`dyeing hair` for Kinetics-400's
        `dying hair`, data/classes/aliases.yaml)."""
        entry = self.classes.get(name)
        if entry is not None:
            return entry
        keys = spelling_keys(name)
        found = [e for n, e in self.classes.items() if match_key(n) in keys]
        return found[0] if len(found) == 1 else None

    def perspectives(self) -> list[str]:
        seen = {p for c in self.classes.values() for p in c.candidates}
        return [p for p in PERSPECTIVES if p in seen] + sorted(seen - set(PERSPECTIVES))


def curated_path(dataset: str) -> Path:
    return data_dir() / "curated" / f"{dataset}.jsonl"


def curation_path(curated: Path) -> Path:
    """The per-class curation records beside a curated file: `<dataset>.curation.json`."""
    return curated.with_name(f"{curated.stem}.curation.json")


def curated_inputs_sha256(dataset: str) -> str:
    """Digest of everything curated that goes into a bundle: the text, its curation
    records and the revision records (a change to any of them rebuilds the bundle)."""
    path = curated_path(dataset)
    parts = [path, curation_path(path), path.parent / "revisions.json"]
    return hashlib.sha256("".join(file_sha256(p) if p.is_file() else "-"
                                  for p in parts).encode()).hexdigest()


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
                unit_overrides=dict(row.get("unit_overrides", {})),
            )
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise SubtextError(f"curated text {path}: line {line_no}: malformed ({err})") from None
        if entry.name in classes:
            raise SubtextError(f"curated text {path}: line {line_no}: class {entry.name!r} repeats")
        classes[entry.name] = entry
    revisions_file = path.parent / "revisions.json"
    revisions = json.loads(revisions_file.read_text()) if revisions_file.is_file() else {}
    records_file = curation_path(path)
    curation, curation_sha = {}, None
    if records_file.is_file():
        try:
            curation = json.loads(records_file.read_text())["classes"]
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise SubtextError(f"curation records {records_file}: malformed ({err})") from None
        curation_sha = file_sha256(records_file)
    return CuratedText(dataset, path, hashlib.sha256(raw).hexdigest(),
                       revisions.get(dataset, {}), classes, curation, curation_sha)


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
        entry = self.curated.lookup(action.name)
        return entry is not None and self.perspective in entry.candidates

    def candidate(self, action: ActionClass) -> Candidate:
        entry = self.curated.lookup(action.name)
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
            "provenance": CURATED_PROVENANCE,
            "priority": self.priority,
        }


def curated_sources(dataset: str, priority: int = 0) -> list[CuratedSource]:
    curated = load_curated(dataset)
    return [CuratedSource(curated, p, priority=priority) for p in curated.perspectives()]
