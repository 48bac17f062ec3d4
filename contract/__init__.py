"""The corpus bundle contract: what `corpus` writes and `model` reads.

Both sides import this package and nothing else of each other. It holds the format's
names (files, schema version), the pyarrow schemas of every table, the checksums that
tie a bundle to its files and a text encoder to its weights, the vocabulary of unit
kinds, and the recipe both sides use to build a random-weight CLIP. It depends only on
numpy and pyarrow (torch and open_clip are imported inside the CLIP recipe, pyyaml
inside the template loader).
docs/corpus-format.md describes the same schemas in prose; a test holds them together.
"""

from contract.checksums import file_sha256, state_dict_sha256
from contract.manifest import check_manifest, unsafe_manifest_paths
from contract.schema import (
    CARD,
    CLASS_ENTITIES_SCHEMA,
    CLASS_UNITS_SCHEMA,
    CLASSES_SCHEMA,
    ENTITIES_SCHEMA,
    FAILURES_SCHEMA,
    FORMAT,
    MANIFEST,
    SCHEMA_VERSION,
    SUBTEXTS_SCHEMA,
    TABLE_SCHEMAS,
    UNIT_REJECTIONS_SCHEMA,
    UNITS_SCHEMA,
    embeddings_file,
    embeddings_schema,
)
from contract.vocabulary import (
    EMBEDDING_KINDS,
    SET_KINDS,
    SOURCE_KINDS,
    UNIT_KINDS,
)

__all__ = [
    "CARD", "CLASSES_SCHEMA", "CLASS_ENTITIES_SCHEMA", "CLASS_UNITS_SCHEMA", "EMBEDDING_KINDS",
    "ENTITIES_SCHEMA", "FAILURES_SCHEMA", "FORMAT", "MANIFEST", "SCHEMA_VERSION",
    "SET_KINDS", "SOURCE_KINDS", "SUBTEXTS_SCHEMA", "TABLE_SCHEMAS", "UNITS_SCHEMA", "UNIT_KINDS",
    "UNIT_REJECTIONS_SCHEMA", "check_manifest", "embeddings_file", "embeddings_schema",
    "file_sha256", "state_dict_sha256", "unsafe_manifest_paths",
]
