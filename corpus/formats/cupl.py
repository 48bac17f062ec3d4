"""CuPL's prompt files: a JSON object of class name -> list of descriptions."""

from pathlib import Path

from corpus.classes import ClassList
from corpus.formats.base import (
    Entries,
    ImportReport,
    NameMatcher,
    TextFormat,
    description_list,
    json_object,
    register_format,
)


@register_format
class CuPL(TextFormat):
    name = "cupl"
    description = "class name -> list of descriptions (CuPL / classify by description)"

    def parse(self, path: Path, text: str, class_list: ClassList, report: ImportReport) -> Entries:
        matcher = NameMatcher(path, class_list)
        entries: Entries = {}
        for key, value in json_object(path, text).items():
            descriptions = description_list(path, key, value)
            name = matcher.match(key)
            if name is None:
                report.unmatched.append(key)
                continue
            entries[name] = [(None, d) for d in descriptions]
        return entries
