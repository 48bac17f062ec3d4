"""OST's descriptor files (`spatio_descriptors/N_descriptors.json`,
`temporal_descriptors/N_descriptors.json`): class index -> list of descriptions."""

from pathlib import Path

from corpus.classes import ClassList
from corpus.formats.base import (
    Entries,
    ImportReport,
    TextFormat,
    by_index,
    description_list,
    json_object,
    register_format,
)


@register_format
class OST(TextFormat):
    name = "ost"
    description = "class index -> list of descriptions (OST spatio/temporal descriptors)"

    def parse(self, path: Path, text: str, class_list: ClassList, report: ImportReport) -> Entries:
        entries: Entries = {}
        for key, value in json_object(path, text).items():
            descriptions = description_list(path, key, value)
            action = by_index(path, key, class_list)
            if action is None:
                report.unmatched.append(key)
                continue
            entries[action.name] = [(None, d) for d in descriptions]
        return entries
