"""CuPL's prompt files (sarahpratt/CuPL all_prompts/*_prompts_full.json): a JSON object of
class name -> list of descriptions. The Kinetics file is keyed by Kinetics-700 names;
some lists hold bare enumerators ("1.") that the cleaning step drops."""

import json
from pathlib import Path

from corpus.formats.base import (
    Entry,
    ExportClass,
    TextFormat,
    description_list,
    json_object,
    register_format,
)


@register_format
class CuPL(TextFormat):
    name = "cupl"
    detect_order = 30
    description = "class name -> list of descriptions (CuPL / classify by description)"

    def read(self, path: Path, text: str) -> list[Entry]:
        return [Entry(f"entry {key!r}", key, None,
                      [(None, d) for d in description_list(path, key, value)])
                for key, value in json_object(path, text).items()]

    def export(self, classes: list[ExportClass]) -> bytes:
        data = {c.name: [t for _, s in c.sets for t in s] for c in classes}
        return (json.dumps(data, indent=4, ensure_ascii=False) + "\n").encode()

    def detect(self, text: str, data: object) -> str | None:
        if isinstance(data, dict) and data and all(isinstance(v, list) for v in data.values()) \
                and not all(k.strip().isdigit() for k in data):
            return "a JSON object of class name -> list (CuPL)"
        return None
