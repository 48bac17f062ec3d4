"""The temporal baseline: a transformer over the L frame embeddings, mean-pooled.

As in the Storyboard ablation's "+ temporal transformer" row (docs/methods.md §1f) and
ActionCLIP's Transf head: learnable frame-position embeddings, pre-norm encoder layers,
and a residual from the input frames so that an untrained transformer starts as mean
pooling. Position embeddings are what let it tell a motion from its reverse.
"""

import torch
from torch import nn

from model.heads.registry import ContrastiveHead, register_head
from model.heads.text import ClassTexts


class TemporalTransformer(nn.Module):
    """(B, L, D) -> (B, L, D): x + Transformer(x + position)."""

    def __init__(self, dim: int, layers: int = 6, heads: int = 8, frames: int = 8,
                 dropout: float = 0.0):
        super().__init__()
        heads = heads if dim % heads == 0 else 1
        self.position = nn.Parameter(torch.randn(frames, dim) * 0.02)
        layer = nn.TransformerEncoderLayer(dim, heads, 4 * dim, dropout, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        if frames.shape[1] > self.position.shape[0]:
            raise ValueError(f"{frames.shape[1]} frames but position embeddings for "
                             f"{self.position.shape[0]}")
        x = self.encoder(frames + self.position[: frames.shape[1]])
        return frames + self.norm(x)


@register_head("temporal")
class TemporalHead(ContrastiveHead):
    def __init__(self, dim: int, layers: int = 6, heads: int = 8, frames: int = 8,
                 dropout: float = 0.0, **contrastive):
        super().__init__(**contrastive)
        self.temporal = TemporalTransformer(dim, layers, heads, frames, dropout)

    def forward(self, frames: torch.Tensor, text: ClassTexts,
                regions: torch.Tensor | None = None) -> torch.Tensor:
        # No region branch: `regions` is accepted (the common head interface) and unused.
        return self.logits(self.temporal(frames).mean(1), text.pooled)
