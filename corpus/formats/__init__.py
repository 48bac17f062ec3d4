"""Text knowledge released by other projects, read as `import` sources.

One small class per format (docs/sharing.md), registered by name in `FORMATS`:
`cupl` (class name -> descriptions, as in CuPL and "classify by description"), `ost`
(class index -> descriptions, OST's spatio/temporal descriptor files), `froster` (class
index -> "Class: sentence", FROSTER's rephrased classes) and `csv` (`class,text[,set]`).
Each class's descriptions become candidate sets of N sub-texts, which then compete under
TPP like any other source's sets. A new format is one module plus `@register_format`.
"""

# Importing the modules registers the formats.
from corpus.formats import csvfile, cupl, froster, ost  # noqa: F401
from corpus.formats.base import (
    FORMATS,
    ImportedText,
    ImportReport,
    ImportSource,
    TextFormat,
    import_sources,
    load_import,
    match_key,
    register_format,
)

__all__ = ["FORMATS", "ImportReport", "ImportSource", "ImportedText", "TextFormat",
           "import_sources", "load_import", "match_key", "register_format"]
