"""Class lists: the dataset's official names in its standard order.

A class list is either a built-in dataset (`data/classes/<name>.csv`) or a user's
file: a CSV with an `id,name` header (an optional `text` column gives the
plain-English label) or one class name per line. CRLF line endings, a UTF-8 byte
order mark and quoted names are accepted; lines over 4096 characters, control and
invisible format characters, and names equal up to case, spaces and punctuation
(`match_key`) are refused with the line.
"""

import csv
import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path

from corpus.errors import ClassListError
from corpus.paths import data_dir
from corpus.printable import describe, first_unsafe


@dataclass(frozen=True)
class ActionClass:
    class_id: int
    name: str  # official spelling
    label: str  # plain English, what the prompts and templates use


@dataclass(frozen=True)
class ClassList:
    dataset: str
    path: Path
    sha256: str
    classes: tuple[ActionClass, ...]
    n_in_list: int

    def head(self, n: int | None) -> "ClassList":
        """The first n classes (a smoke run); the full list when n is None."""
        if n is None:
            return self
        if n < 1:
            raise ClassListError(f"CLASSES must be a positive number, got {n}")
        return ClassList(self.dataset, self.path, self.sha256, self.classes[:n], self.n_in_list)


def builtin_datasets() -> list[str]:
    return sorted(p.stem for p in (data_dir() / "classes").glob("*.csv"))


def resolve_class_list(dataset: str) -> tuple[str, Path]:
    """A dataset name (`hmdb51`) or a path to a class file -> (dataset name, path)."""
    builtin = data_dir() / "classes" / f"{dataset}.csv"
    if "/" not in dataset and not dataset.endswith((".csv", ".txt")):
        if builtin.exists():
            return dataset, builtin
        known = ", ".join(builtin_datasets())
        raise ClassListError(
            f"unknown dataset {dataset!r}: built-in datasets are {known}; "
            "or pass a path to your own classes.csv"
        )
    path = Path(dataset)
    if not path.is_file():
        raise ClassListError(f"class list {path}: no such file")
    return path.stem, path


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def label_from_name(name: str) -> str:
    """`brush_hair` -> `brush hair`; `ApplyEyeMakeup` -> `apply eye makeup`."""
    words = _CAMEL.sub(" ", name.replace("_", " ")).split()
    return " ".join(words).lower()


def match_key(name: str) -> str:
    """The one normalisation of a class name, for matching spellings across files (the
    importer) and for refusing near-duplicate names (class lists): `Apply Eye Makeup`,
    `ApplyEyeMakeup` and `apply_eye_makeup` all give `applyeyemakeup`."""
    return re.sub(r"[^0-9a-z]", "", name.casefold())


def _decode(path: Path, raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise ClassListError(
            f"class list {path}: line {line} is not valid UTF-8 (byte {err.start}); "
            "save the file as UTF-8"
        ) from None


# A class name is a few words; a longer line is a wrong file (and past 128 KiB the CSV
# reader itself gives up).
MAX_LINE_CHARS = 4096


def _check_lines(path: Path, text: str) -> None:
    """Refuse, before the CSV reader sees them, over-long lines and characters that act on
    a terminal or hide in plain sight (corpus.printable)."""
    for line_no, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        if len(line) > MAX_LINE_CHARS:
            raise ClassListError(
                f"class list {path}: line {line_no} is {len(line)} characters long; "
                f"a class line may have at most {MAX_LINE_CHARS}")
        ch = first_unsafe(line)
        if ch is not None:
            raise ClassListError(
                f"class list {path}: line {line_no}: {describe(ch)} at column "
                f"{line.index(ch) + 1}; class names must be plain text")


def _rows(path: Path, text: str) -> list[list[str]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        return [r for r in reader if any(c.strip() for c in r)]
    except csv.Error as err:  # e.g. a quote never closed, swallowing the rest of the file
        raise ClassListError(
            f"class list {path}: line {reader.line_num}: not valid CSV ({err})") from None


def parse_class_list(path: Path, raw: bytes) -> list[ActionClass]:
    text = _decode(path, raw)
    _check_lines(path, text)
    rows = _rows(path, text)
    if not rows:
        raise ClassListError(f"class list {path}: the file has no classes")
    header = [c.strip().lower() for c in rows[0]]
    if "name" in header:
        return _parse_table(path, header, rows[1:])
    table = _headerless_table(rows)
    if table is not None:
        return _parse_table(path, ["id", "name"], _zero_based(table), first_line=1)
    return _parse_names(path, rows)


def _headerless_table(rows: list[list[str]]) -> list[list[str]] | None:
    """The common label-file shapes without a header: `0,brush_hair` on every line, or
    `1 ApplyEyeMakeup` (UCF-101's classInd.txt); None when any line is not `id<sep>name`."""
    table = []
    for row in rows:
        cells = row if len(row) == 2 else row[0].strip().split(None, 1) if len(row) == 1 else []
        if len(cells) != 2 or not cells[0].strip().isdigit():
            return None
        table.append([cells[0].strip(), cells[1].strip()])
    return table


def _zero_based(table: list[list[str]]) -> list[list[str]]:
    """Ids numbered 1..N (classInd.txt) become 0..N-1: class ids index the score columns and
    the labels of list files, which count from 0."""
    ids = sorted(int(i) for i, _ in table)
    if ids != list(range(1, len(table) + 1)):
        return table
    return [[str(int(i) - 1), name] for i, name in table]


def _parse_table(path: Path, header: list[str], rows: list[list[str]],
                 first_line: int = 2) -> list[ActionClass]:
    if "id" not in header:
        raise ClassListError(f"class list {path}: a header with `name` also needs `id`")
    i_id, i_name = header.index("id"), header.index("name")
    i_text = header.index("text") if "text" in header else None
    classes: list[ActionClass] = []
    for line_no, row in enumerate(rows, start=first_line):
        cells = [c.strip() for c in row] + [""] * len(header)
        try:
            class_id = int(cells[i_id])
        except ValueError:
            raise ClassListError(
                f"class list {path}: line {line_no}: id {cells[i_id]!r} is not an integer"
            ) from None
        name = cells[i_name]
        label = (cells[i_text] if i_text is not None else "") or label_from_name(name)
        classes.append(ActionClass(class_id, name, label))
    _check(path, classes, first_line=first_line)
    return classes


def _parse_names(path: Path, rows: list[list[str]]) -> list[ActionClass]:
    classes = []
    for i, row in enumerate(rows):
        # One name per line; a name containing a comma arrives split by the CSV reader.
        name = ",".join(row).strip()
        classes.append(ActionClass(i, name, label_from_name(name)))
    _check(path, classes, first_line=1)
    return classes


def _check(path: Path, classes: list[ActionClass], first_line: int) -> None:
    seen: dict[str, int] = {}
    keys: dict[str, tuple[int, str]] = {}
    for offset, c in enumerate(classes):
        line = first_line + offset
        if not c.name:
            raise ClassListError(f"class list {path}: line {line}: empty class name")
        if c.name in seen:
            raise ClassListError(
                f"class list {path}: line {line}: duplicate class {c.name!r} "
                f"(first at line {seen[c.name]})"
            )
        ch = first_unsafe(c.name + c.label)
        if ch is not None:  # a quoted field spanning lines
            raise ClassListError(
                f"class list {path}: line {line}: {describe(ch)} in class name {c.name[:40]!r}; "
                "class names must be plain text (a quote left open?)")
        seen[c.name] = line
        # Names that differ only in case, spaces, underscores or punctuation would become
        # two classes with the same text. A name with no Latin letter or digit has an empty
        # key; only its exact spelling is compared.
        key = match_key(c.name)
        if key in keys:
            first, name = keys[key]
            raise ClassListError(
                f"class list {path}: line {line}: class {c.name!r} and line {first}'s "
                f"{name!r} are the same name up to case, spaces and punctuation ({key!r})")
        if key:
            keys[key] = (line, c.name)
    ids = sorted(c.class_id for c in classes)
    if ids != list(range(len(classes))):
        missing = sorted(set(range(len(classes))) - set(ids))
        raise ClassListError(
            f"class list {path}: ids must be contiguous from 0 to {len(classes) - 1}; "
            f"missing {missing[:10]}" if missing else f"class list {path}: ids repeat"
        )


def load_class_list(dataset: str) -> ClassList:
    name, path = resolve_class_list(dataset)
    raw = path.read_bytes()
    classes = sorted(parse_class_list(path, raw), key=lambda c: c.class_id)
    return ClassList(name, path, hashlib.sha256(raw).hexdigest(), tuple(classes), len(classes))
