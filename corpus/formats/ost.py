"""OST's descriptor files (tomchen-ctj/OST descriptors/<dataset>/{spatio,temporal}_descriptors/
N_descriptors.json): class index -> list of N descriptions. Temporal descriptors carry
"Step 1: " / "Step1: " numbering, which the cleaning step removes."""

import json
from pathlib import Path

from corpus.formats.base import (
    Entry,
    ExportClass,
    TextFormat,
    description_list,
    index_key,
    json_object,
    register_format,
)


@register_format
class OST(TextFormat):
    name = "ost"
    detect_order = 20
    description = "class index -> list of descriptions (OST spatio/temporal descriptors)"

    def read(self, path: Path, text: str) -> list[Entry]:
        return [Entry(f"entry {key!r}", None, index_key(path, key),
                      [(None, d) for d in description_list(path, key, value)])
                for key, value in json_object(path, text).items()]

    def export(self, classes: list[ExportClass]) -> bytes:
        data = {str(c.class_id): [t for _, s in c.sets for t in s] for c in classes}
        return (json.dumps(data, indent=4, ensure_ascii=False) + "\n").encode()

    def detect(self, text: str, data: object) -> str | None:
        if isinstance(data, dict) and data and all(k.strip().isdigit() for k in data) \
                and all(isinstance(v, list) for v in data.values()):
            return "a JSON object of class index -> list (OST)"
        return None
