"""A registry of heads (as timm's create_model): a new head is one file plus one
`@register_head("name")`, never an if/elif chain."""

from collections.abc import Callable

import torch
from torch import nn

from model.errors import LearnerError

HEADS: dict[str, Callable[..., nn.Module]] = {}


def register_head(name: str):
    def add(cls):
        HEADS[name] = cls
        return cls
    return add


def create_head(name: str, dim: int, **options) -> nn.Module:
    if name not in HEADS:
        raise LearnerError(f"unknown head {name!r}; known: {sorted(HEADS)}")
    return HEADS[name](dim=dim, **options)


class ContrastiveHead(nn.Module):
    """Shared by every head: logit(video, c) = sim(o, t_c) / τ, with τ learnable (CLIP's
    log-parameterisation) or fixed."""

    def __init__(self, temperature: float = 0.07, learn_temperature: bool = True):
        super().__init__()
        scale = torch.tensor(1.0 / temperature).log()
        if learn_temperature:
            self.log_scale = nn.Parameter(scale)
        else:
            self.register_buffer("log_scale", scale)

    def logits(self, video: torch.Tensor, pooled: torch.Tensor) -> torch.Tensor:
        """video (B, D) or (B, C, D) per-class embeddings; pooled t_c (C, D) -> (B, C)."""
        v = nn.functional.normalize(video, dim=-1)
        t = nn.functional.normalize(pooled, dim=-1)
        sims = v @ t.T if v.dim() == 2 else (v * t[None]).sum(-1)
        # Clamped like CLIP's logit scale (≤ 100) so a learnable τ cannot run away.
        return sims * self.log_scale.clamp(max=4.6052).exp()
