"""What every text format shares: the import report, mapping a file's entries onto a
class list, cleaning and chunking descriptions into candidate sets, and the `import`
source those sets become. Each format is one small class in its own module, registered
in `corpus.formats.FORMATS`."""

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from corpus.classes import ActionClass, ClassList, match_key
from corpus.errors import SubtextError
from corpus.subtexts import Candidate, clean_subtext


@dataclass
class ImportReport:
    """How a file mapped onto a class list; `render()` gives the text the CLI prints."""

    format: str
    file: str
    n_subtexts: int
    classes_in_list: int
    # File entries (names or indices) that match no class of the list.
    unmatched: list[str] = field(default_factory=list)
    # Classes of the list that the file does not mention.
    missing: list[str] = field(default_factory=list)
    # Class -> number of descriptions, for classes with fewer than N (no set).
    too_few: dict[str, int] = field(default_factory=dict)
    # Class -> number of trailing descriptions dropped (fewer than N left over).
    dropped: dict[str, int] = field(default_factory=dict)
    sets_by_class: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def classes_with_sets(self) -> int:
        return sum(1 for n in self.sets_by_class.values() if n)

    def as_dict(self) -> dict:
        return {
            "format": self.format, "file": self.file, "n_subtexts": self.n_subtexts,
            "classes_in_list": self.classes_in_list, "classes_with_sets": self.classes_with_sets,
            "unmatched": self.unmatched, "missing": self.missing, "too_few": self.too_few,
            "dropped": self.dropped, "sets_by_class": self.sets_by_class, "notes": self.notes,
        }

    def render(self, shown: int = 20) -> str:
        sets = sum(self.sets_by_class.values())
        lines = [f"import {self.file} ({self.format}): {self.classes_with_sets} of "
                 f"{self.classes_in_list} classes have at least one set of "
                 f"{self.n_subtexts} sub-texts ({sets} set(s))"]

        def listing(title: str, items: list[str]) -> None:
            if items:
                more = f", … {len(items) - shown} more" if len(items) > shown else ""
                lines.append(f"  {title} ({len(items)}): {', '.join(items[:shown])}{more}")

        listing("unmatched: in the file, not in the class list", self.unmatched)
        listing("missing: in the class list, not in the file", self.missing)
        listing(f"fewer than {self.n_subtexts} descriptions, no set",
                [f"{k} ({v})" for k, v in self.too_few.items()])
        listing("left-over descriptions dropped",
                [f"{k} ({v})" for k, v in self.dropped.items()])
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


Entries = dict[str, list[tuple[str | None, str]]]  # class name -> [(set key, description)]


class TextFormat:
    """One released file format. `parse` maps a decoded file onto a class list."""

    name: ClassVar[str]
    description: ClassVar[str]

    def parse(self, path: Path, text: str, class_list: ClassList,
              report: ImportReport) -> Entries:
        raise NotImplementedError


FORMATS: dict[str, TextFormat] = {}


def register_format(cls: type[TextFormat]) -> type[TextFormat]:
    FORMATS[cls.name] = cls()
    return cls


@dataclass(frozen=True)
class ImportedText:
    """One file's descriptions mapped onto a class list and chunked into sets."""

    format: str
    path: Path
    label: str  # names the file in source ids: the stem, made unique for OST
    sha256: str
    n_subtexts: int
    sets: dict[str, tuple[tuple[str, ...], ...]] = field(repr=False)  # class name -> sets
    report: ImportReport = field(repr=False)

    @property
    def n_sets(self) -> int:
        return max((len(s) for s in self.sets.values()), default=0)


@dataclass
class ImportSource:
    """The k-th candidate set of every class in one imported file."""

    imported: ImportedText
    index: int  # k, 0-based
    kind: str = "import"
    attempts: int = 1
    priority: int = 0

    @property
    def id(self) -> str:
        return f"import:{self.imported.format}/{self.imported.label}/{self.index}"

    def covers(self, action: ActionClass) -> bool:
        return self.index < len(self.imported.sets.get(action.name, ()))

    def candidate(self, action: ActionClass) -> Candidate:
        sets = self.imported.sets.get(action.name, ())
        if self.index >= len(sets):
            raise SubtextError(
                f"imported file {self.imported.path.name} has no set {self.index} for class "
                f"{action.name!r} ({len(sets)} set(s) of {self.imported.n_subtexts})"
            )
        return Candidate(action.class_id, self.id, self.kind, None, None, sets[self.index])

    def describe(self) -> dict:
        name = display_name(self.imported.format, self.imported.path)
        return {
            "id": self.id,
            "kind": self.kind,
            "format": self.imported.format,
            "format_description": FORMATS[self.imported.format].description,
            "file": name,
            "file_sha256": self.imported.sha256,
            "set_index": self.index,
            "classes_with_set": sum(1 for s in self.imported.sets.values()
                                    if len(s) > self.index),
            "provenance": f"imported from {name}; text written by that file's authors, "
                          "not by the pipeline's LLM sources",
            "priority": self.priority,
        }


def import_sources(format: str, path: Path, class_list: ClassList, n: int = 4,
                   priority: int = 0,
                   label: str | None = None) -> tuple[list[ImportSource], ImportReport]:
    """One source per set index k (as many as the most sets any class has) and the report."""
    imported = load_import(format, path, class_list, n, label)
    sources = [ImportSource(imported, k, priority=priority) for k in range(imported.n_sets)]
    return sources, imported.report


def load_import(format: str, path: Path, class_list: ClassList, n: int = 4,
                label: str | None = None) -> ImportedText:
    if format not in FORMATS:
        raise SubtextError(f"unknown import format {format!r}; choose one of {', '.join(FORMATS)}")
    if n < 1:
        raise SubtextError(f"sub-texts per set must be at least 1, got {n}")
    path = Path(path)
    if not path.is_file():
        raise SubtextError(f"import file {path}: no such file")
    raw = path.read_bytes()
    report = ImportReport(format, display_name(format, path), n, len(class_list.classes))
    entries = FORMATS[format].parse(path, _decode(path, raw), class_list, report)
    sets = _chunk(entries, class_list, n, report)
    return ImportedText(format, path, label or default_label(format, path),
                        hashlib.sha256(raw).hexdigest(), n, sets, report)


def display_name(format: str, path: Path) -> str:
    """The file's name for reports and provenance (never a home directory)."""
    if format == "ost" and path.parent.name.endswith("_descriptors"):
        return f"{path.parent.name}/{path.name}"
    return path.name


def default_label(format: str, path: Path) -> str:
    """The file stem; OST's spatio and temporal files share stems, so their folder joins it."""
    stem = path.stem
    if format == "ost" and path.parent.name.endswith("_descriptors"):
        return f"{path.parent.name.removesuffix('_descriptors')}-{stem}"
    return stem


# -- parsing helpers --------------------------------------------------------------

def _decode(path: Path, raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise SubtextError(f"import file {path}: line {line} is not valid UTF-8 "
                           f"(byte {err.start}); save the file as UTF-8") from None


class _RepeatedKey(Exception):
    pass


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    out: dict = {}
    for k, v in pairs:
        if k in out:
            raise _RepeatedKey(k)
        out[k] = v
    return out


def json_object(path: Path, text: str) -> dict:
    try:
        data = json.loads(text, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as err:
        raise SubtextError(f"import file {path}: not valid JSON (line {err.lineno}, column "
                           f"{err.colno}: {err.msg})") from None
    except _RepeatedKey as err:
        raise SubtextError(f"import file {path}: key {err.args[0]!r} appears more than once "
                           "(JSON keeps only the last; merge them)") from None
    if not isinstance(data, dict):
        raise SubtextError(f"import file {path}: expected a JSON object at the top level, "
                           f"got {type(data).__name__}")
    if not data:
        raise SubtextError(f"import file {path}: the JSON object is empty")
    return data


def checked_description(path: Path, where: str, value: object) -> str:
    if not isinstance(value, str):
        raise SubtextError(f"import file {path}: {where}: expected a string, "
                           f"got {type(value).__name__} {str(value)[:40]!r}")
    if not value.strip():
        raise SubtextError(f"import file {path}: {where}: empty description")
    return value


def description_list(path: Path, key: str, value: object) -> list[str]:
    if not isinstance(value, list):
        raise SubtextError(f"import file {path}: entry {key!r}: expected a list of "
                           f"descriptions, got {type(value).__name__}")
    return [checked_description(path, f"entry {key!r} item {i}", v) for i, v in enumerate(value)]


class NameMatcher:
    """Class-list names and labels by `match_key`; an ambiguous key is an error."""

    def __init__(self, path: Path, class_list: ClassList, one_spelling: bool = True) -> None:
        self.path = path
        # JSON keys: two spellings of one class would make one silently replace the other.
        self.one_spelling = one_spelling
        self.by_key: dict[str, str] = {}
        for c in class_list.classes:
            for spelling in {c.name, c.label}:
                key = match_key(spelling)
                other = self.by_key.get(key)
                if other is not None and other != c.name:
                    raise SubtextError(f"import: class list {class_list.path} has classes "
                                       f"{other!r} and {c.name!r} that match the same "
                                       f"spelling {key!r}")
                self.by_key[key] = c.name
        self.matched_from: dict[str, str] = {}  # class name -> file spelling

    def match(self, spelling: str) -> str | None:
        name = self.by_key.get(match_key(spelling))
        if name is None:
            return None
        first = self.matched_from.setdefault(name, spelling)
        if self.one_spelling and first != spelling:
            raise SubtextError(f"import file {self.path}: {first!r} and {spelling!r} both name "
                               f"class {name!r}; keep one of them")
        return name


def by_index(path: Path, key: str, class_list: ClassList) -> ActionClass | None:
    if not re.fullmatch(r"\d+", key):
        raise SubtextError(f"import file {path}: key {key!r} is not a class index "
                           "(expected \"0\", \"1\", …)")
    index = int(key)
    return next((c for c in class_list.classes if c.class_id == index), None)


# -- candidate sets ------------------------------------------------------------------

def _clean(text: str, report_counter: list[int]) -> str:
    cleaned = clean_subtext(text)
    if cleaned != " ".join(text.split()):
        report_counter[0] += 1
    return cleaned


def _chunk(entries: Entries, class_list: ClassList, n: int,
           report: ImportReport) -> dict[str, tuple[tuple[str, ...], ...]]:
    """Consecutive chunks of n in file order; with a `set` column, one set per set key."""
    numbering = [0]
    sets: dict[str, tuple[tuple[str, ...], ...]] = {}
    for action in class_list.classes:
        items = entries.get(action.name)
        if items is None:
            report.missing.append(action.name)
            continue
        texts = [(k, _clean(d, numbering)) for k, d in items]
        if any(k is not None for k, _ in texts):
            groups: dict[str, list[str]] = {}
            for k, t in texts:
                groups.setdefault(k, []).append(t)
            chosen = []
            for k, group in groups.items():
                if len(group) == n:
                    chosen.append(tuple(group))
                else:
                    report.notes.append(f"{action.name}: set {k!r} has {len(group)} "
                                        f"descriptions, not {n}; skipped")
            if not chosen and len(texts) < n:
                report.too_few[action.name] = len(texts)
        else:
            flat = [t for _, t in texts]
            chosen = [tuple(flat[i:i + n]) for i in range(0, len(flat) - n + 1, n)]
            if not chosen:
                report.too_few[action.name] = len(flat)
            elif len(flat) % n:
                report.dropped[action.name] = len(flat) % n
        sets[action.name] = tuple(chosen)
        report.sets_by_class[action.name] = len(chosen)
    if numbering[0]:
        report.notes.append(f"list numbering ('1.', 'Step 2:') removed from {numbering[0]} "
                            "description(s)")
    if report.too_few and not report.classes_with_sets:
        report.notes.append(f"no class has {n} descriptions; a file with one sentence per "
                            f"class (FROSTER) gives no set of {n}")
    return sets
