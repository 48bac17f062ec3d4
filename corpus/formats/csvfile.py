"""A CSV of descriptions, one per row.

With a header: a class column (`class` or `name`, and/or `id`/`index`), a text column
(`text` or `description`) and an optional `set` column. Without a header (the shape of
the common label files and of one-sentence-per-class files): `class,text` or
`id,class,text`, the class a name or an index."""

import csv
import io
from pathlib import Path

from corpus.errors import SubtextError
from corpus.formats.base import Entry, ExportClass, TextFormat, register_format

_CLASS, _INDEX, _TEXT = ("class", "name"), ("id", "index"), ("text", "description")


def _columns(header: list[str]) -> dict[str, int] | None:
    """Column positions from a header row, or None when the row is not a header."""
    cols: dict[str, int] = {}
    for i, cell in enumerate(header):
        for role, names in (("class", _CLASS), ("index", _INDEX), ("text", _TEXT),
                            ("set", ("set",))):
            if cell in names and role not in cols:
                cols[role] = i
    if "text" in cols and ("class" in cols or "index" in cols):
        return cols
    return None


@register_format
class CSV(TextFormat):
    name = "csv"
    description = "CSV of class,text rows (header optional; an optional set column)"
    merges_repeats = True
    detect_order = 90

    def read(self, path: Path, text: str) -> list[Entry]:
        rows = list(csv.reader(io.StringIO(text, newline="")))
        if not any(any(c.strip() for c in r) for r in rows):
            raise SubtextError(f"import file {path}: the file is empty")
        header = [c.strip().lower() for c in rows[0]]
        cols = _columns(header)
        first = 2
        if cols is None:
            if any(h in _CLASS + _INDEX + _TEXT + ("set",) for h in header):
                raise SubtextError(f"import file {path}: line 1: a header needs a text column "
                                   "(`text` or `description`) and a class column (`class`, "
                                   f"`name`, `id` or `index`), got {rows[0]}")
            cols = _headerless(path, rows)
            first = 1
        entries = []
        for line_no, row in enumerate(rows[first - 1:], start=first):
            if not any(c.strip() for c in row):
                continue
            cells = row + [""] * (max(cols.values()) + 1)
            name = cells[cols["class"]].strip() if "class" in cols else None
            index = None
            if "index" in cols:
                raw = cells[cols["index"]].strip()
                if not raw.isdigit():
                    raise SubtextError(f"import file {path}: line {line_no}: class index "
                                       f"{raw!r} is not a number")
                index = int(raw)
            if name is not None and name.isdigit() and "index" not in cols:
                name, index = None, int(name)
            if name == "" and index is None:
                raise SubtextError(f"import file {path}: line {line_no}: empty class")
            set_key = cells[cols["set"]].strip() if "set" in cols else None
            if "set" in cols and not set_key:
                raise SubtextError(f"import file {path}: line {line_no}: empty `set`")
            entries.append(Entry(f"line {line_no}", name or None, index,
                                 [(set_key, cells[cols["text"]])]))
        return entries

    def export(self, classes: list[ExportClass]) -> bytes:
        out = io.StringIO(newline="")
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["class", "set", "text"])
        for c in classes:
            for key, texts in c.sets:
                writer.writerows([c.name, key, t] for t in texts)
        return out.getvalue().encode()

    def detect(self, text: str, data: object) -> str | None:
        if data is not None:
            return None
        try:
            rows = [r for r in csv.reader(io.StringIO(text, newline="")) if r]
        except csv.Error:
            return None
        if rows and all(len(r) >= 2 for r in rows[:20]):
            has_header = _columns([c.strip().lower() for c in rows[0]]) is not None
            return f"CSV {'with a header' if has_header else 'without a header'}"
        return None


def _headerless(path: Path, rows: list[list[str]]) -> dict[str, int]:
    widths = {len(r) for r in rows if any(c.strip() for c in r)}
    if widths == {2}:
        return {"class": 0, "text": 1}
    if widths == {3} and all(r[0].strip().isdigit() for r in rows if any(c.strip() for c in r)):
        return {"index": 0, "class": 1, "text": 2}
    raise SubtextError(f"import file {path}: line 1: no header, and rows are not `class,text` "
                       f"or `id,class,text` (row widths {sorted(widths)}); add a header "
                       "`class,text`")
