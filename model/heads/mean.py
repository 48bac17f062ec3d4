"""CLIP mean pooling (the Storyboard ablation's first row, docs/methods.md §1f): the video
embedding is the mean of its frame embeddings.

With a frozen backbone (features mode) the head learns one linear map of the frame
embeddings, initialised to the identity, standing in for the fine-tuned visual encoder
of the paper's baseline; it is applied per frame, so the head stays blind to frame
order. `learn_projection: false` gives plain zero-shot CLIP.
"""

import torch
from torch import nn

from model.heads.registry import ContrastiveHead, register_head
from model.heads.text import ClassTexts


@register_head("mean")
class MeanHead(ContrastiveHead):
    def __init__(self, dim: int, frames: int = 8, learn_projection: bool = True,
                 **contrastive):
        # `frames` is accepted like every head's, and unused: mean pooling takes any L.
        super().__init__(**contrastive)
        self.projection = nn.Linear(dim, dim) if learn_projection else nn.Identity()
        if learn_projection:
            nn.init.eye_(self.projection.weight)
            nn.init.zeros_(self.projection.bias)

    def forward(self, frames: torch.Tensor, text: ClassTexts,
                regions: torch.Tensor | None = None) -> torch.Tensor:
        # No region branch: `regions` is accepted (the common head interface) and unused.
        return self.logits(self.projection(frames).mean(1), text.pooled)
