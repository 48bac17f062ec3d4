"""FROSTER's rephrased classes: class index -> "Class: sentence" (or a list of them)."""

from pathlib import Path

from corpus.classes import ClassList
from corpus.errors import SubtextError
from corpus.formats.base import (
    Entries,
    ImportReport,
    TextFormat,
    by_index,
    checked_description,
    json_object,
    match_key,
    register_format,
)


@register_format
class FROSTER(TextFormat):
    name = "froster"
    description = "class index -> 'Class: sentence' (FROSTER rephrased classes)"

    def parse(self, path: Path, text: str, class_list: ClassList, report: ImportReport) -> Entries:
        entries: Entries = {}
        for key, value in json_object(path, text).items():
            items = value if isinstance(value, list) else [value]
            action = by_index(path, key, class_list)
            sentences = []
            for i, item in enumerate(items):
                where = f"entry {key!r}" + (f" item {i}" if isinstance(value, list) else "")
                rephrased = checked_description(path, where, item)
                head, colon, sentence = rephrased.partition(":")
                if not colon:
                    report.notes.append(f"entry {key!r}: no 'Class:' prefix; the whole text is "
                                        "the description")
                    head, sentence = "", rephrased
                if not sentence.strip():
                    raise SubtextError(f"import file {path}: {where}: empty description after "
                                       f"{head.strip()!r}:")
                if action is not None and head and match_key(head) not in {
                        match_key(action.name), match_key(action.label)}:
                    report.notes.append(f"entry {key!r}: names {head.strip()!r} but index {key} is "
                                        f"class {action.name!r} of the list; mapped by index")
                sentences.append(sentence)
            if action is None:
                report.unmatched.append(key)
                continue
            entries[action.name] = [(None, s) for s in sentences]
        return entries
