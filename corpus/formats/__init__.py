"""Text knowledge released by other projects, read by `import` and written by `export`.

One small class per format (docs/sharing.md), registered by name in `FORMATS`:
`cupl` (class name -> descriptions, CuPL and "classify by description"), `ost` (class
index -> descriptions, OST's spatio/temporal descriptor files), `froster` (class index ->
"Class: sentence", FROSTER's rephrased classes), `froster-text` (FROSTER's
`N. Class: sentence.` lines) and `csv` (`class,text[,set]`, header optional). Each class's
descriptions are mapped by name first, cleaned, length-checked against CLIP's context and
cut into candidate sets of N sub-texts, which then compete under TPP like any other
source's sets. A new format is one module with `read`, `export` and `detect`, plus
`@register_format`.
"""

# Importing the modules registers the formats.
from corpus.formats import csvfile, cupl, froster, ost  # noqa: F401
from corpus.formats.base import (
    CLEANING,
    FORMATS,
    MAPPINGS,
    ON_LONG,
    ExportClass,
    ImportedText,
    ImportReport,
    ImportSource,
    TextFormat,
    detect_format,
    import_sources,
    load_import,
    match_key,
    register_format,
)

__all__ = ["CLEANING", "FORMATS", "MAPPINGS", "ON_LONG", "ExportClass", "ImportReport",
           "ImportSource", "ImportedText", "TextFormat", "detect_format", "import_sources",
           "load_import", "match_key", "register_format"]
