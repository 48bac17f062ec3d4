"""File names and pyarrow schemas of a corpus bundle (schema version 3).

Column meanings: docs/corpus-format.md (tests/contract checks that the document lists
exactly these columns).
"""

import pyarrow as pa

FORMAT = "subtext-corpus"
SCHEMA_VERSION = 3
MANIFEST = "manifest.json"
CARD = "README.md"  # the dataset card, generated from the manifest

CLASSES_SCHEMA = pa.schema([
    ("class_id", pa.int32()), ("name", pa.string()), ("label", pa.string()),
    ("text", pa.string()), ("status", pa.string()), ("selected_candidate", pa.int32()),
])
SUBTEXTS_SCHEMA = pa.schema([
    ("class_id", pa.int32()), ("candidate_id", pa.int32()), ("source", pa.string()),
    ("source_kind", pa.string()), ("model", pa.string()), ("prompt_id", pa.string()),
    ("position", pa.int32()), ("text", pa.string()), ("sigma", pa.float64()),
    ("delta", pa.float64()), ("tpp", pa.float64()), ("selected", pa.bool_()),
    ("rejected_reason", pa.string()), ("n_tokens", pa.int32()), ("truncated", pa.bool_()),
    ("set_kind", pa.string()), ("n_tokens_before_cut", pa.int32()),
])
FAILURES_SCHEMA = pa.schema([
    ("class_id", pa.int32()), ("source", pa.string()), ("reason", pa.string()),
    ("attempts", pa.int32()), ("transient", pa.bool_()),
])

_strings = pa.list_(pa.string())
UNITS_SCHEMA = pa.schema([
    ("unit_id", pa.string()), ("text", pa.string()), ("head", pa.string()),
    ("kind", pa.string()), ("kinds", _strings), ("n_words", pa.int32()),
    ("n_classes", pa.int32()), ("n_mentions", pa.int32()), ("sources", _strings),
    ("surface_forms", _strings),
])
CLASS_UNITS_SCHEMA = pa.schema([
    ("class_id", pa.int32()), ("unit_id", pa.string()), ("kind", pa.string()),
    ("score", pa.float64()), ("sources", _strings),
])
ENTITIES_SCHEMA = pa.schema([
    ("entity_id", pa.string()), ("text", pa.string()), ("kind", pa.string()),
    ("kind_source", pa.string()), ("source_kind", pa.string()), ("n_words", pa.int32()),
    ("wordnet_lemma", pa.string()), ("synset", pa.string()), ("description", pa.string()),
    ("description_source", pa.string()), ("needs_description", pa.bool_()),
    ("wsd_method", pa.string()), ("wsd_confidence", pa.float64()),
    ("runner_up", pa.string()), ("lesk_synset", pa.string()),
    ("embedding_synset", pa.string()), ("sense_agreement", pa.float64()),
    ("senses", _strings), ("n_classes", pa.int32()), ("sources", _strings),
])
CLASS_ENTITIES_SCHEMA = pa.schema([
    ("class_id", pa.int32()), ("entity_id", pa.string()), ("kind", pa.string()),
    ("score", pa.float64()), ("sources", _strings), ("synset", pa.string()),
    ("wsd_confidence", pa.float64()), ("description", pa.string()),
    ("description_source", pa.string()),
])
UNIT_REJECTIONS_SCHEMA = pa.schema([
    ("class_id", pa.int32()), ("source", pa.string()), ("kind", pa.string()),
    ("raw", pa.string()), ("reason", pa.string()),
])

# Every table a bundle must have, by file name.
TABLE_SCHEMAS: dict[str, pa.Schema] = {
    "classes.parquet": CLASSES_SCHEMA,
    "subtexts.parquet": SUBTEXTS_SCHEMA,
    "failures.parquet": FAILURES_SCHEMA,
    "units.parquet": UNITS_SCHEMA,
    "class_units.parquet": CLASS_UNITS_SCHEMA,
    "entities.parquet": ENTITIES_SCHEMA,
    "class_entities.parquet": CLASS_ENTITIES_SCHEMA,
    "unit_rejections.parquet": UNIT_REJECTIONS_SCHEMA,
}


def embeddings_schema(dim: int) -> pa.Schema:
    """One text encoder's embeddings: pooled (D,) and optional per-token (W, D) rows."""
    vector = pa.list_(pa.float32(), dim)
    return pa.schema([
        ("kind", pa.string()), ("class_id", pa.int32()), ("candidate_id", pa.int32()),
        ("position", pa.int32()), ("item_id", pa.string()), ("text", pa.string()),
        ("pooled", vector),
        ("tokens", pa.list_(vector)), ("token_ids", pa.list_(pa.int32())),
        ("n_tokens", pa.int32()), ("truncated", pa.bool_()),
    ])


def embeddings_file(encoder_id: str) -> str:
    return f"embeddings/{encoder_id}.parquet"
