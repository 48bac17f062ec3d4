"""The learner: trains and evaluates CLIP-based video recognisers from a corpus bundle.

It reads only a bundle's Parquet files and manifest (docs/corpus-format.md) and never
imports `corpus` or `pipelines` (docs/learner.md).
"""
