"""FROSTER's rephrased classes (Visual-AI/FROSTER label_rephrase/):

- `froster`: `*_rephrased_classes.json`, class index -> "Class name: sentence" (one
  sentence per class; a list of such strings per index is accepted too);
- `froster-text`: `*_rephrased.txt`, lines `N. Class name: sentence.` where the class may be
  quoted (`0. "Apply Eye Makeup": …`), blank lines may separate entries, and a line may
  give only the class name (no sentence; FROSTER's k600 file). Lines without `N.` (one
  `Class: sentence` per line) are read too.

The class name before the colon maps the entry (name first); the index is checked against
it (corpus.formats.base.map_entries)."""

import json
import re
from pathlib import Path

from corpus.errors import SubtextError
from corpus.formats.base import (
    Entry,
    ExportClass,
    TextFormat,
    checked_description,
    index_key,
    json_object,
    register_format,
    split_class_prefix,
)


def _capitalised(name: str) -> str:
    label = name.replace("_", " ")
    return label[:1].upper() + label[1:]


@register_format
class FROSTER(TextFormat):
    name = "froster"
    detect_order = 10
    description = "class index -> 'Class: sentence' (FROSTER rephrased classes, JSON)"

    def read(self, path: Path, text: str) -> list[Entry]:
        entries = []
        for key, value in json_object(path, text).items():
            index = index_key(path, key)
            items = value if isinstance(value, list) else [value]
            names, sentences = set(), []
            for i, item in enumerate(items):
                where = f"entry {key!r}" + (f" item {i}" if isinstance(value, list) else "")
                if isinstance(item, list):
                    raise SubtextError(f"import file {path}: {where}: expected a string, "
                                       "got a nested list")
                head, sentence = split_class_prefix(checked_description(path, where, item))
                names.add(head)
                sentences.append((None, sentence))
            if len(names) > 1:
                raise SubtextError(f"import file {path}: entry {key!r} names more than one "
                                   f"class: {sorted(n or '' for n in names)}")
            entries.append(Entry(f"entry {key!r}", names.pop() if names else None, index,
                                 sentences))
        return entries

    def export(self, classes: list[ExportClass]) -> bytes:
        data: dict[str, object] = {}
        for c in classes:
            lines = [f"{_capitalised(c.name)}: {t}" for _, s in c.sets for t in s]
            data[str(c.class_id)] = lines[0] if len(lines) == 1 else lines
        return json.dumps(data, ensure_ascii=False).encode()

    def detect(self, text: str, data: object) -> str | None:
        if not isinstance(data, dict) or not data or \
                not all(k.strip().isdigit() for k in data):
            return None
        values = [v if isinstance(v, list) else [v] for v in data.values()]
        if all(items and all(isinstance(s, str) and split_class_prefix(s)[0] for s in items)
               for items in values) and all(
                len({split_class_prefix(s)[0] for s in items}) == 1 for items in values):
            return "a JSON object of class index -> 'Class: sentence' (FROSTER)"
        return None


_LINE = re.compile(r"^\s*(?:(?P<index>\d+)\s*[.)]\s*)?(?P<rest>\S.*?)\s*$")


@register_format
class FROSTERText(TextFormat):
    name = "froster-text"
    detect_order = 40
    description = "lines 'N. Class: sentence.' (FROSTER *_rephrased.txt; one sentence per class)"

    def read(self, path: Path, text: str) -> list[Entry]:
        entries: list[Entry] = []
        by_key: dict[tuple[int | None, str | None], Entry] = {}
        for line_no, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            m = _LINE.match(line)
            head, sentence = split_class_prefix(m["rest"])
            index = int(m["index"]) if m["index"] is not None else None
            if head is None:
                if index is None:
                    raise SubtextError(f"import file {path}: line {line_no}: expected "
                                       f"'N. Class: sentence', got {line.strip()[:60]!r}")
                # FROSTER's k600 list has lines with the class name only: no sentence.
                head, sentence = m["rest"].strip().strip('"'), ""
            key = (index, head)
            entry = by_key.get(key)
            if entry is None:
                entry = Entry(f"line {line_no}", head, index, [])
                by_key[key] = entry
                entries.append(entry)
            entry.items.append((None, sentence))
        return entries

    def export(self, classes: list[ExportClass]) -> bytes:
        lines = [f"{c.class_id}. {_capitalised(c.name)}: {t}"
                 for c in classes for _, s in c.sets for t in s]
        return ("\n".join(lines) + "\n").encode()

    def detect(self, text: str, data: object) -> str | None:
        lines = [ln for ln in text.splitlines() if ln.strip()]
        if data is None and lines and all(
                (m := _LINE.match(ln)) and (m["index"] is not None or
                                           split_class_prefix(m["rest"])[0]) for ln in lines) \
                and sum(1 for ln in lines if split_class_prefix(_LINE.match(ln)["rest"])[0]) \
                >= len(lines) / 2 and not _looks_like_csv(lines):
            return "lines of 'N. Class: sentence' (FROSTER text)"
        return None


def _looks_like_csv(lines: list[str]) -> bool:
    return lines[0].count(",") >= 1 and ":" not in lines[0]
