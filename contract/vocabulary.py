"""Closed vocabularies of the format: the values some string columns may take."""

# Attentive Semantic Units' four kinds (docs/methods.md §2), in a fixed order: a head's
# learned kind embedding indexes this tuple, so the order means the same in every bundle.
UNIT_KINDS = ("body_parts", "objects", "scenes", "motions")

# subtexts.source_kind: who wrote a candidate set.
SOURCE_KINDS = ("llm", "curated", "import")

# embeddings/<encoder>.parquet `kind`: what a row embeds.
EMBEDDING_KINDS = ("class", "subtext", "unit", "entity")
