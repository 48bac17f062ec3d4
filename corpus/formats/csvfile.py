"""A CSV of descriptions: columns `class`, `text` and an optional `set`."""

import csv
import io
from pathlib import Path

from corpus.classes import ClassList
from corpus.errors import SubtextError
from corpus.formats.base import (
    Entries,
    ImportReport,
    NameMatcher,
    TextFormat,
    checked_description,
    register_format,
)


@register_format
class CSV(TextFormat):
    name = "csv"
    description = "CSV with columns class,text and an optional set column"

    def parse(self, path: Path, text: str, class_list: ClassList, report: ImportReport) -> Entries:
        rows = list(csv.reader(io.StringIO(text, newline="")))
        if not rows:
            raise SubtextError(f"import file {path}: the file is empty")
        header = [c.strip().lower() for c in rows[0]]
        if "class" not in header or "text" not in header:
            raise SubtextError(f"import file {path}: line 1: expected a header with columns "
                               f"`class` and `text` (and optionally `set`), got {rows[0]}")
        i_class, i_text = header.index("class"), header.index("text")
        i_set = header.index("set") if "set" in header else None
        matcher = NameMatcher(path, class_list, one_spelling=False)  # rows merge per class
        entries: Entries = {}
        unmatched: dict[str, None] = {}
        for line_no, row in enumerate(rows[1:], start=2):
            if not any(c.strip() for c in row):
                continue
            cells = row + [""] * len(header)
            cls = cells[i_class].strip()
            if not cls:
                raise SubtextError(f"import file {path}: line {line_no}: empty class")
            description = checked_description(path, f"line {line_no}", cells[i_text])
            name = matcher.match(cls)
            if name is None:
                unmatched.setdefault(cls)
                continue
            set_key = cells[i_set].strip() if i_set is not None else None
            if i_set is not None and not set_key:
                raise SubtextError(f"import file {path}: line {line_no}: empty `set`")
            entries.setdefault(name, []).append((set_key, description))
        report.unmatched += list(unmatched)
        return entries
