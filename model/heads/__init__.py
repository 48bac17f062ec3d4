"""Video heads: frame embeddings (B, L, D) + class text -> video–class logits (B, C).

`create_head(name, dim, **options)` (registry.py) builds one; each head is one file."""

# Importing the modules registers the heads.
from model.heads import mean, storyboard, temporal  # noqa: F401
from model.heads.registry import HEADS, create_head, register_head

__all__ = ["HEADS", "create_head", "register_head"]
