"""Video heads: frame embeddings (B, L, D) [+ region tokens (B, L, K, D)] + class text ->
video–class logits (B, C).

`create_head(name, dim, bundle, **options)` (registry.py) builds one; each head is one
file. mean, temporal, storyboard (SFAR), asu (Attentive Semantic Units), alt (Align
before Adapt); docs/heads.md lists every choice the papers leave open."""

# Importing the modules registers the heads.
from model.heads import alt, asu, mean, storyboard, temporal  # noqa: F401
from model.heads.registry import HEADS, create_head, register_head

__all__ = ["HEADS", "create_head", "register_head"]
