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

from corpus.aliases import alias_index, class_list_order_note, hmdb_swapped_ids
from corpus.classes import ActionClass, ClassList, match_key
from corpus.errors import SubtextError
from corpus.subtexts import (
    FULL,
    MAX_SUBTEXT_CHARS,
    ON_LONG,
    Candidate,
    clean_subtext,
    is_long,
    set_kind_of,
)
from corpus.text import normalise
from corpus.tokens import CLIP_CONTEXT, clip_token_counts, fit_clip_context


@dataclass
class ImportReport:
    """How a file mapped onto a class list; `render()` gives the text the CLI prints."""

    format: str
    file: str
    n_subtexts: int
    classes_in_list: int
    # How the format was chosen: "given" or "detected: <why>".
    format_from: str = "given"
    # How entries were mapped: "name", "index" or "name, index where the file gives no name".
    mapped_by: str = ""
    # File entries (names or indices) that match no class of the list.
    unmatched: list[str] = field(default_factory=list)
    # Classes of the list that the file does not mention.
    missing: list[str] = field(default_factory=list)
    # Class -> number of distinct descriptions, for classes with fewer than N: their one
    # smaller set is kept, marked (`ImportedText.short`): 2 to N-1 a short set, 1 sentence
    # a class-text augmentation (subtexts.parquet `set_kind`).
    too_few: dict[str, int] = field(default_factory=dict)
    # Classes the file gives but whose every item the clean-up dropped (no set).
    emptied: list[str] = field(default_factory=list)
    # Class -> number of trailing descriptions dropped (fewer than N left over).
    dropped: dict[str, int] = field(default_factory=dict)
    # Kind of clean-up -> number of items (corpus.formats.base.CLEANING).
    cleaned: dict[str, int] = field(default_factory=dict)
    # Descriptions over the CLIP context or over MAX_SUBTEXT_CHARS: (class, tokens, chars, text).
    long: list[tuple[str, int, int, str]] = field(default_factory=list)
    on_long: str = "keep"
    sets_by_class: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def classes_with_sets(self) -> int:
        return sum(1 for c, n in self.sets_by_class.items() if n and c not in self.too_few)

    @property
    def short_sets(self) -> dict[str, int]:
        """Classes whose one set has 2 to N-1 sub-texts."""
        return {c: k for c, k in self.too_few.items() if k >= 2}

    @property
    def class_text_augmentations(self) -> list[str]:
        """Classes for which the file gives one sentence: a class-text augmentation."""
        return [c for c, k in self.too_few.items() if k == 1]

    def as_dict(self) -> dict:
        return {
            "format": self.format, "format_from": self.format_from, "file": self.file,
            "n_subtexts": self.n_subtexts, "mapped_by": self.mapped_by,
            "classes_in_list": self.classes_in_list, "classes_with_sets": self.classes_with_sets,
            "unmatched": self.unmatched, "missing": self.missing, "too_few": self.too_few,
            "short_sets": self.short_sets,
            "class_text_augmentations": self.class_text_augmentations,
            "dropped": self.dropped, "emptied": self.emptied, "cleaned": self.cleaned,
            "long": [{"class": c, "n_tokens": t, "chars": n, "text": x}
                     for c, t, n, x in self.long],
            "on_long": self.on_long, "sets_by_class": self.sets_by_class, "notes": self.notes,
        }

    def render(self, shown: int = 20) -> str:
        sets = sum(n for c, n in self.sets_by_class.items() if c not in self.too_few)
        lines = [f"import {self.file} ({self.format}, {self.format_from}): "
                 f"{self.classes_with_sets} of {self.classes_in_list} classes have at least "
                 f"one set of {self.n_subtexts} sub-texts ({sets} set(s))"]
        if self.mapped_by:
            lines.append(f"  mapped by {self.mapped_by}")

        def listing(title: str, items: list[str]) -> None:
            if items:
                more = f", … {len(items) - shown} more" if len(items) > shown else ""
                lines.append(f"  {title} ({len(items)}): {', '.join(items[:shown])}{more}")

        listing("unmatched: in the file, not in the class list", self.unmatched)
        listing("missing: in the class list, not in the file", self.missing)
        listing(f"fewer than {self.n_subtexts} distinct descriptions, kept as one short set",
                [f"{k} ({v})" for k, v in self.short_sets.items()])
        listing("one sentence, kept as a class-text augmentation",
                self.class_text_augmentations)
        listing("nothing left after clean-up, no set", self.emptied)
        listing("left-over descriptions dropped",
                [f"{k} ({v})" for k, v in self.dropped.items()])
        listing("items cleaned", [f"{k}: {v}" for k, v in self.cleaned.items() if v])
        verb = {"keep": "kept; CLIP cuts any over 77 tokens", "truncate": "cut to fit",
                "reject": "refused"}[self.on_long]
        listing(f"over {CLIP_CONTEXT} CLIP tokens or {MAX_SUBTEXT_CHARS} characters ({verb})",
                [f"{c}: {t} tokens, {n} chars {x[:40]!r}" for c, t, n, x in self.long])
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


@dataclass
class Entry:
    """One class's part of a file, before it is mapped onto a class list."""

    where: str  # for messages: "entry '3'", "line 5"
    name: str | None  # the class as the file names it, if it does
    index: int | None  # the class index the file gives, if it does
    items: list[tuple[str | None, str]]  # (set key, description) in file order


@dataclass(frozen=True)
class ExportClass:
    """One class's text for `export`: its id, name and sets (each a tuple of sub-texts)."""

    class_id: int
    name: str
    sets: tuple[tuple[str, tuple[str, ...]], ...]  # (set key, sub-texts)


class TextFormat:
    """One released file format: `read` a decoded file into entries, `export` a bundle's
    text in the same shape, `detect` recognises a file of this shape (a reason or None)."""

    name: ClassVar[str]
    description: ClassVar[str]
    # CSV rows of one class accumulate; a JSON key naming a class twice is an error.
    merges_repeats: ClassVar[bool] = False
    # Detection tries stricter shapes first (FROSTER JSON before OST, CSV last).
    detect_order: ClassVar[int] = 50

    def read(self, path: Path, text: str) -> list[Entry]:
        raise NotImplementedError

    def export(self, classes: list[ExportClass]) -> bytes:
        raise NotImplementedError

    def detect(self, text: str, data: object) -> str | None:
        return None


FORMATS: dict[str, TextFormat] = {}


def register_format(cls: type[TextFormat]) -> type[TextFormat]:
    FORMATS[cls.name] = cls()
    return cls


MAPPINGS = ("auto", "name", "index")


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
    # Classes whose only set is smaller than n_subtexts (fewer distinct descriptions).
    short: frozenset[str] = frozenset()
    # Descriptions `on_long: truncate` cut: the cut text -> its CLIP tokens before.
    cut: dict[str, int] = field(default_factory=dict, repr=False)

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
        # A class with fewer than N distinct descriptions has one smaller set, marked as
        # short (2 to N-1) or as a class-text augmentation (1 sentence), never dropped.
        chosen = sets[self.index]
        kind = (set_kind_of(len(chosen), self.imported.n_subtexts)
                if action.name in self.imported.short else FULL)
        before = tuple(self.imported.cut.get(t) for t in chosen)
        return Candidate(action.class_id, self.id, self.kind, None, None, chosen, kind,
                         before if any(n is not None for n in before) else ())

    def describe(self) -> dict:
        name = display_name(self.imported.format, self.imported.path)
        report = self.imported.report
        return {
            "id": self.id,
            "kind": self.kind,
            "format": self.imported.format,
            "format_description": FORMATS[self.imported.format].description,
            "format_from": report.format_from,
            "mapped_by": report.mapped_by,
            "file": name,
            "file_sha256": self.imported.sha256,
            "set_index": self.index,
            "classes_with_set": sum(1 for s in self.imported.sets.values()
                                    if len(s) > self.index),
            "short_sets": sorted(self.imported.short),
            "cleaned": report.cleaned,
            "on_long": report.on_long,
            "long": len(report.long),
            "provenance": f"imported from {name}; text written by that file's authors, "
                          "not by the pipeline's LLM sources",
            "priority": self.priority,
        }


def import_sources(format: str | None, path: Path, class_list: ClassList, n: int = 4,
                   priority: int = 0, label: str | None = None, mapping: str = "auto",
                   on_long: str = "keep") -> tuple[list[ImportSource], ImportReport]:
    """One source per set index k (as many as the most sets any class has) and the report."""
    imported = load_import(format, path, class_list, n, label, mapping, on_long)
    sources = [ImportSource(imported, k, priority=priority) for k in range(imported.n_sets)]
    return sources, imported.report


def load_import(format: str | None, path: Path, class_list: ClassList, n: int = 4,
                label: str | None = None, mapping: str = "auto",
                on_long: str = "keep") -> ImportedText:
    """Read, detect (format None or "auto"), map, clean, length-check and chunk one file."""
    if format not in (None, "auto") and format not in FORMATS:
        raise SubtextError(f"unknown import format {format!r}; choose one of {', '.join(FORMATS)}")
    if mapping not in MAPPINGS:
        raise SubtextError(f"unknown mapping {mapping!r}; choose one of {', '.join(MAPPINGS)}")
    if on_long not in ON_LONG:
        raise SubtextError(f"unknown --on-long {on_long!r}; choose one of {', '.join(ON_LONG)}")
    if n < 1:
        raise SubtextError(f"sub-texts per set must be at least 1, got {n}")
    path = Path(path)
    if not path.is_file():
        raise SubtextError(f"import file {path}: no such file")
    raw = path.read_bytes()
    text = _decode(path, raw)
    if not text.strip():
        raise SubtextError(f"import file {path}: the file is empty")
    format_from = "given"
    if format in (None, "auto"):
        format, why = detect_format(path, text)
        format_from = f"detected: {why}"
    report = ImportReport(format, display_name(format, path), n, len(class_list.classes),
                          format_from=format_from, on_long=on_long)
    entries = FORMATS[format].read(path, text)
    mapped = map_entries(path, entries, class_list, mapping, FORMATS[format].merges_repeats,
                         report)
    cleaned = clean_entries(mapped, report)
    cut: dict[str, int] = {}
    checked = check_lengths(path, cleaned, on_long, report, cut)
    sets, short = _chunk(checked, class_list, n, report)
    return ImportedText(format, path, label or default_label(format, path),
                        hashlib.sha256(raw).hexdigest(), n, sets, report, frozenset(short), cut)


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


def detect_format(path: Path, text: str) -> tuple[str, str]:
    """The registered format whose `detect` recognises the file first, and why."""
    try:
        data: object = json.loads(text)
    except json.JSONDecodeError:
        data = None
    for name, fmt in sorted(FORMATS.items(), key=lambda f: f[1].detect_order):
        why = fmt.detect(text, data)
        if why:
            return name, why
    raise SubtextError(f"import file {path}: could not tell its format (not a JSON object of "
                       "descriptions, numbered 'Class: sentence' lines or a CSV); pass --format")


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
    return value


def description_list(path: Path, key: str, value: object) -> list[str]:
    if not isinstance(value, list):
        raise SubtextError(f"import file {path}: entry {key!r}: expected a list of "
                           f"descriptions, got {type(value).__name__}")
    return [checked_description(path, f"entry {key!r} item {i}", v) for i, v in enumerate(value)]


def index_key(path: Path, key: str) -> int:
    if not re.fullmatch(r"\d+", key.strip()):
        raise SubtextError(f"import file {path}: key {key!r} is not a class index "
                           "(expected \"0\", \"1\", …)")
    return int(key)


# "Class: sentence", the class optionally quoted: FROSTER's rephrased classes.
_CLASS_PREFIX = re.compile(r'^\s*"?(?P<cls>[^":]{1,120}?)"?\s*:\s*(?P<text>.*)$', re.DOTALL)


def split_class_prefix(text: str) -> tuple[str | None, str]:
    """`Brush hair: A person …` -> ("Brush hair", "A person …"); no prefix -> (None, text)."""
    m = _CLASS_PREFIX.match(text)
    if m is None or re.fullmatch(r"(?i)step\s*\d+", m["cls"].strip()):
        return None, text
    return m["cls"].strip(), m["text"]


class NameMatcher:
    """Class-list names, labels and alias-table spellings by `match_key`."""

    def __init__(self, class_list: ClassList) -> None:
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
        for key, name in alias_index(class_list).items():
            self.by_key.setdefault(key, name)

    def match(self, spelling: str) -> str | None:
        return self.by_key.get(match_key(spelling))


def _contradiction_error(path: Path, contradictions: list[tuple[Entry, str, str]],
                         n_named: int, class_list: ClassList, swapped: bool) -> SubtextError:
    shown = "; ".join(f"{e.where} names {e.name!r} = {by_name!r} but index {e.index} is "
                      f"{by_index!r}" for e, by_name, by_index in contradictions[:10])
    more = f"; … {len(contradictions) - 10} more" if len(contradictions) > 10 else ""
    why = (" The file follows the swapped HMDB-51 label order (ids 20/21 and 44/45 exchanged, "
           "as in the ActionCLIP-lineage label CSVs)." if swapped else
           " Its indices are not this list's order (a base/novel split numbers its own "
           "classes).")
    return SubtextError(
        f"import file {path}: {len(contradictions)} of {n_named} named entries name a "
        f"different class than their index in {class_list.dataset}: {shown}{more}.{why} "
        "Pass --by-name to map by the names or --by-index to map by the indices")


def map_entries(path: Path, entries: list[Entry], class_list: ClassList, mapping: str,
                merges_repeats: bool, report: ImportReport) -> dict[str, list]:
    """Entries -> class name -> items. By name first; an index is used where the file gives
    no name (or a name that is no class), or for every entry with mapping "index". A named
    entry whose index is a different class stops the import unless mapping is explicit."""
    matcher = NameMatcher(class_list)
    by_id = {c.class_id: c.name for c in class_list.classes}
    out: dict[str, list] = {}
    first_where: dict[str, str] = {}
    contradictions: list[tuple[Entry, str, str]] = []
    unmatched: dict[str, None] = {}
    used = set()
    for e in entries:
        by_name = matcher.match(e.name) if e.name is not None else None
        by_index = by_id.get(e.index) if e.index is not None else None
        if mapping == "index":
            if e.index is None:
                raise SubtextError(f"import file {path}: {e.where}: no class index to map by "
                                   "(--by-index needs an index-keyed file)")
            target, how = by_index, "index"
        elif mapping == "name":
            if e.name is None:
                raise SubtextError(f"import file {path}: {e.where}: no class name to map by "
                                   "(--by-name needs a file that names its classes)")
            target, how = by_name, "name"
        else:
            if by_name is not None and by_index is not None and by_name != by_index:
                contradictions.append((e, by_name, by_index))
            if by_name is not None:
                target, how = by_name, "name"
            elif e.index is not None:
                target, how = by_index, "index"
                if e.name is not None and by_index is not None:
                    report.notes.append(f"{e.where}: {e.name!r} names no class of the list; "
                                        f"mapped by index to {by_index!r}")
            else:
                target, how = None, "name"
        used.add(how)
        if target is None:
            shown = e.name if (how == "name" or e.index is None) else str(e.index)
            unmatched.setdefault(shown if shown is not None else e.where)
            continue
        if target in out and not merges_repeats:
            raise SubtextError(f"import file {path}: {first_where[target]} and {e.where} both "
                               f"give class {target!r}; keep one of them")
        first_where.setdefault(target, e.where)
        out.setdefault(target, []).extend(e.items)
    if contradictions:
        named = {e.index: e.name for e in entries if e.index is not None and e.name}
        swapped = hmdb_swapped_ids(named, class_list)
        raise _contradiction_error(path, contradictions,
                                   sum(1 for e in entries if e.name is not None),
                                   class_list, swapped)
    index_only = all(e.name is None for e in entries)
    if mapping == "auto" and index_only and len(entries) != len(class_list.classes):
        raise SubtextError(
            f"import file {path}: keyed by class index only, with {len(entries)} entries for "
            f"the {len(class_list.classes)} classes of {class_list.dataset}: its indices may "
            "be a split's own numbering. Pass --by-index to map them onto this list's order")
    if not out:
        first = entries[0] if entries else None
        shown = f" (first: {first.where}, {first.name or first.index!r})" if first else ""
        raise SubtextError(f"import file {path}: none of its {len(entries)} entries is a "
                           f"class of {class_list.dataset}{shown}; is --dataset right?")
    report.mapped_by = " and ".join(sorted(used)) if used else ""
    if index_only and mapping == "auto":
        report.mapped_by = "index (the file gives no class names)"
    order_note = class_list_order_note(class_list)
    if order_note and "index" in used:
        report.notes.append(order_note)
    report.unmatched += list(unmatched)
    return out


# -- cleaning ------------------------------------------------------------------------

_ENUMERATOR_ONLY = re.compile(r"^\s*(?:step\s*)?\d+\s*[.):-]?\s*$", re.IGNORECASE)
_BULLET = re.compile(r"^\s*[-*•·–—]\s+")
_QUOTES = {('"', '"'), ("'", "'"), ("“", "”"), ("‘", "’"), ("«", "»")}
_NOT_APPLICABLE = {"n/a", "na", "none", "null", "nan", "-", "—", "tbd", "..."}

# Kinds of clean-up, in the order the report lists them.
CLEANING = ("empty", "enumerator only", "not applicable", "duplicate",
            "numbering removed", "bullet removed", "quotes removed")


def clean_item(text: str) -> tuple[str | None, list[str]]:
    """One description cleaned, or None when nothing is left; and what was done."""
    if not text.strip():
        return None, ["empty"]
    if _ENUMERATOR_ONLY.match(text):
        return None, ["enumerator only"]
    done: list[str] = []
    s = " ".join(text.split())
    if _BULLET.match(s):
        s = _BULLET.sub("", s)
        done.append("bullet removed")
    numbered = clean_subtext(s)
    if numbered != s:
        s = numbered
        done.append("numbering removed")
    while len(s) >= 2 and (s[0], s[-1]) in _QUOTES:
        s = s[1:-1].strip()
        done.append("quotes removed")
    if s.casefold().rstrip(".") in _NOT_APPLICABLE or s.casefold() in _NOT_APPLICABLE:
        return None, ["not applicable"]
    if not s:
        return None, [*done, "empty"]
    return s, done


def clean_entries(mapped: dict[str, list], report: ImportReport) -> dict[str, list]:
    counts = dict.fromkeys(CLEANING, 0)
    out: dict[str, list] = {}
    for name, items in mapped.items():
        seen: set[tuple[str | None, str]] = set()
        kept = []
        for set_key, text in items:
            cleaned, done = clean_item(text)
            for kind in done:
                counts[kind] += 1
            if cleaned is None:
                continue
            key = (set_key, normalise(cleaned))
            if key in seen:
                counts["duplicate"] += 1
                continue
            seen.add(key)
            kept.append((set_key, cleaned))
        out[name] = kept
    report.cleaned = {k: v for k, v in counts.items() if v}
    return out


# -- length ------------------------------------------------------------------------

def check_lengths(path: Path, entries: dict[str, list], on_long: str,
                  report: ImportReport, cut: dict[str, int]) -> dict[str, list]:
    """Flag descriptions over CLIP's context (77 tokens with start and end) or over
    MAX_SUBTEXT_CHARS; keep them, cut them to fit (each cut text -> its tokens before, in
    `cut`), or refuse the file."""
    texts = [t for items in entries.values() for _, t in items]
    counts = dict(zip(texts, clip_token_counts(texts), strict=True))
    out: dict[str, list] = {}
    for name, items in entries.items():
        kept = []
        for set_key, t in items:
            n_tokens = counts[t]
            if is_long(n_tokens, t):
                report.long.append((name, n_tokens, len(t), t))
                if on_long == "truncate":
                    t = fit_clip_context(t, MAX_SUBTEXT_CHARS)
                    cut[t] = n_tokens
            kept.append((set_key, t))
        out[name] = kept
    if report.long and on_long == "reject":
        c, n_tokens, chars, t = report.long[0]
        raise SubtextError(
            f"import file {path}: {len(report.long)} description(s) over {CLIP_CONTEXT} CLIP "
            f"tokens or {MAX_SUBTEXT_CHARS} characters, first of class {c!r}: {n_tokens} "
            f"tokens, {chars} characters {t[:60]!r}…; --on-long keep or truncate accepts them")
    return out


# -- candidate sets ------------------------------------------------------------------

def _chunk(entries: dict[str, list], class_list: ClassList, n: int,
           report: ImportReport) -> tuple[dict[str, tuple[tuple[str, ...], ...]], set[str]]:
    """Consecutive chunks of n in file order; with a `set` column, one set per set key.
    A class with fewer than n distinct descriptions keeps them as one short set."""
    sets: dict[str, tuple[tuple[str, ...], ...]] = {}
    short: set[str] = set()
    for action in class_list.classes:
        texts = entries.get(action.name)
        if texts is None:
            report.missing.append(action.name)
            continue
        if not texts:
            report.emptied.append(action.name)
            sets[action.name] = ()
            report.sets_by_class[action.name] = 0
            continue
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
        else:
            flat = [t for _, t in texts]
            chosen = [tuple(flat[i:i + n]) for i in range(0, len(flat) - n + 1, n)]
            if chosen and len(flat) % n:
                report.dropped[action.name] = len(flat) % n
        if not chosen and len(texts) < n:
            chosen = [tuple(t for _, t in texts)]
            short.add(action.name)
            report.too_few[action.name] = len(texts)
        sets[action.name] = tuple(chosen)
        report.sets_by_class[action.name] = len(chosen)
    if report.class_text_augmentations and not report.classes_with_sets:
        report.notes.append(f"no class has {n} descriptions: a class with one sentence (as "
                            "FROSTER gives) keeps it as a class-text augmentation, an "
                            "alternative class text, not a set of sub-texts")
    return sets, short
