"""A registry of heads (as timm's create_model): a new head is one file plus one
`@register_head("name")`, never an if/elif chain.

The head interface: `forward(frames (B, L, D), text: ClassTexts, regions=None) -> (B, C)`.
`regions` are region tokens (B, L, K, D) in the same joint space as the frames (ALT's
token-merged regions, ASU's multi-region attention); every head accepts the argument so
the trainer passes it the same way to all, and heads without a region branch (mean,
temporal, storyboard) ignore it. A head that needs bundle knowledge beyond class text
names it in a class attribute `knowledge` (keys of `model.heads.text.KNOWLEDGE`, which
are also its constructor arguments); `create_head` loads it from the bundle.
"""

from collections.abc import Callable

import torch
from torch import nn

from model.bundle import Bundle
from model.errors import LearnerError
from model.heads.text import KNOWLEDGE

HEADS: dict[str, Callable[..., nn.Module]] = {}


def register_head(name: str):
    def add(cls):
        HEADS[name] = cls
        return cls
    return add


def create_head(name: str, dim: int, bundle: Bundle | None = None, **options) -> nn.Module:
    if name not in HEADS:
        raise LearnerError(f"unknown head {name!r}; known: {sorted(HEADS)}")
    # Knowledge passed explicitly (tests, other callers) wins over the bundle's.
    needs = [k for k in getattr(HEADS[name], "knowledge", ()) if k not in options]
    if needs and bundle is None:
        raise LearnerError(f"head {name!r} needs {', '.join(needs)} from a corpus bundle")
    loaded = {k: KNOWLEDGE[k](bundle) for k in needs}
    return HEADS[name](dim=dim, **loaded, **options)


def regions_or_frames(frames: torch.Tensor, regions: torch.Tensor | None) -> torch.Tensor:
    """Region tokens (B, L, K, D); without region features (regions None) each frame
    embedding stands in as its frame's single region (K = 1), so region heads run on
    any feature cache, with a frame-level alignment instead of a region-level one."""
    if regions is None:
        return frames[:, :, None]
    if regions.dim() != 4 or regions.shape[:2] != frames.shape[:2] or \
            regions.shape[-1] != frames.shape[-1]:
        raise ValueError(f"regions {tuple(regions.shape)} do not match frames "
                         f"{tuple(frames.shape)}: expected (B, L, K, D)")
    return regions


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
