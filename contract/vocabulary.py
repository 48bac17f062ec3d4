"""Closed vocabularies of the format: the values some string columns may take."""

# Attentive Semantic Units' four kinds (docs/methods.md §2), in a fixed order: a head's
# learned kind embedding indexes this tuple, so the order means the same in every bundle.
UNIT_KINDS = ("body_parts", "objects", "scenes", "motions")

# subtexts.source_kind: who wrote a candidate set.
SOURCE_KINDS = ("llm", "curated", "import")

# subtexts.set_kind: N sub-texts, a short set (2 to N-1: the source had fewer distinct
# descriptions for the class), or one sentence kept as a class-text augmentation.
SET_KINDS = ("full", "short", "class_text")

# embeddings/<encoder>.parquet `kind`: what a row embeds.
EMBEDDING_KINDS = ("class", "subtext", "class_text", "unit", "entity")
