"""Attentive Semantic Units (ASU, ICCV 2023; docs/methods.md §2 and §5).

Frame and region features attend to the bundle's shared semantic-unit vocabulary and
select the units relevant to each frame; a cross-modal decoder then uses the selected
units as queries to decode the video representation from the visual tokens:

  x_l = [v_l; r_{l,1..K}]                           frame + region tokens (B, L, R, D)
  ρ_{l,u} = s · max_r sim(x_{l,r}, u)               relevance of unit u to frame l
  S_l = topk_u ρ_{l,u},  w_l = softmax_{u∈S_l} ρ_{l,u}   selection, soft inside the top-k
  q_{l,j} = P(u_{S_l,j}) + kind(u) + p_l            queries: the selected units
  N × [ q_l += CrossAttn(q_l, x_l);  q += TemporalSelfAttn(q over all L·k);  q += FFN(q) ]
  o = W(mean_l Σ_j w_{l,j} q_{l,j}) + mean_l v_l;  logit(video, c) = sim(o, t_c) / τ

Shapes: frames (B, L, D); regions (B, L, K, D) or None (then R = 1: the frame embedding
is its frame's single region, `regions_or_frames`); units (U, D).

Choices the papers leave open (each a constructor argument; table in docs/heads.md):
- `top_k` (4) units per frame, chosen from the WHOLE vocabulary (one shared vocabulary,
  docs/methods.md §2), not from the class's own units: the class is unknown at this point.
- Relevance of a unit to a frame is its best cosine over the frame's tokens (a unit
  may match one region only), times a learnable `selection_scale` (10).
- The selection weights w enter as the pooling weights of the decoded queries, which is
  where the gradient reaches the selection (top-k itself is not differentiable).
- A learned embedding of the unit's kind (body part, object, scene, motion) is added to
  its query (`kind_embedding`), so the decoder can treat a motion unlike an object.
- `layers` (2) decoder layers with `heads` (8) heads; cross-attention spans the query's
  own frame's tokens (spatial), the self-attention spans all L·k queries of the video
  with frame-position embeddings (temporal attention across frames).
- `position_std` (0.5): initial scale of the frame-position embeddings. The queries of
  every frame start as the same few projected units (norm ≈ 6.5 at D = 128), so the
  position embedding is what tells frame l's queries from frame m's; at the usual 0.02
  (temporal, ALT) it was 4 % of the query and ASU trained on frame features stayed at
  chance within time-reversed pairs (order accuracy 0.53–0.58); at 0.5 it read the order
  (0.74 / 0.75, seeds 0 / 1; docs/heads.md).
- `frame_residual` (True): the mean frame embedding is added to the decoded vector and
  the last projection is zero-initialised, so the untrained head is mean pooling.
- The unit vocabulary is a non-persistent buffer: checkpoints hold no unit table; the
  evaluation bundle's units are used.
"""

import torch
import torch.nn.functional as F
from torch import nn

from model.heads.registry import ContrastiveHead, regions_or_frames, register_head
from model.heads.text import UNIT_KINDS, ClassTexts, SemanticUnits


def select_semantic_units(tokens: torch.Tensor, units: torch.Tensor, k: int,
                          scale: float | torch.Tensor = 1.0
                          ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Attention from frame/region tokens (B, L, R, D) to units (U, D) and top-k selection.

    Returns indices (B, L, k) of the selected units, their weights (B, L, k) (a softmax
    over the selected relevances, summing to 1 per frame) and all relevances (B, L, U)."""
    sims = torch.einsum("blrd,ud->blru", F.normalize(tokens, dim=-1),
                        F.normalize(units, dim=-1))
    relevance = scale * sims.amax(2)
    top = relevance.topk(min(k, units.shape[0]), dim=-1)
    return top.indices, torch.softmax(top.values, dim=-1), relevance


class DecoderLayer(nn.Module):
    """Cross-attention from each frame's selected units to its tokens, temporal
    self-attention across all selected units of the video, feed-forward (pre-norm)."""

    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        self.norm_query = nn.LayerNorm(dim)
        self.norm_tokens = nn.LayerNorm(dim)
        self.cross_attention = nn.MultiheadAttention(dim, heads, dropout, batch_first=True)
        self.norm_temporal = nn.LayerNorm(dim)
        self.temporal_attention = nn.MultiheadAttention(dim, heads, dropout,
                                                        batch_first=True)
        self.norm_ffn = nn.LayerNorm(dim)
        self.ffn = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, queries: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """queries (B, L, k, D), tokens (B, L, R, D) -> (B, L, k, D)."""
        b, length, k, d = queries.shape
        q = queries.reshape(b * length, k, d)
        kv = self.norm_tokens(tokens).reshape(b * length, -1, d)
        q = q + self.cross_attention(self.norm_query(q), kv, kv, need_weights=False)[0]
        q = q.reshape(b, length * k, d)
        h = self.norm_temporal(q)
        q = q + self.temporal_attention(h, h, h, need_weights=False)[0]
        q = q + self.ffn(self.norm_ffn(q))
        return q.reshape(b, length, k, d)


@register_head("asu")
class AttentiveSemanticUnitsHead(ContrastiveHead):
    knowledge = ("semantic_units",)

    def __init__(self, dim: int, semantic_units: SemanticUnits, frames: int = 8,
                 top_k: int = 4, layers: int = 2, heads: int = 8, dropout: float = 0.0,
                 selection_scale: float = 10.0, kind_embedding: bool = True,
                 position_std: float = 0.5, frame_residual: bool = True, **contrastive):
        super().__init__(**contrastive)
        if semantic_units.pooled.shape[-1] != dim:
            raise ValueError(f"unit embeddings are {semantic_units.pooled.shape[-1]}-d, "
                             f"frames {dim}-d")
        self.register_buffer("units", semantic_units.pooled.float(), persistent=False)
        self.register_buffer("unit_kinds", semantic_units.kinds.long(), persistent=False)
        self.unit_ids = list(semantic_units.ids)
        self.top_k = top_k
        self.log_selection_scale = nn.Parameter(torch.tensor(float(selection_scale)).log())
        self.unit_projection = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, dim))
        self.kind_embedding = nn.Embedding(len(UNIT_KINDS), dim) if kind_embedding else None
        if self.kind_embedding is not None:
            nn.init.normal_(self.kind_embedding.weight, std=0.02)
        self.position = nn.Parameter(torch.randn(frames, dim) * position_std)
        heads = heads if dim % heads == 0 else 1
        self.decoder = nn.ModuleList(DecoderLayer(dim, heads, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)
        self.out = nn.Linear(dim, dim)
        self.frame_residual = frame_residual
        if frame_residual:
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)

    def visual_tokens(self, frames: torch.Tensor, regions: torch.Tensor | None
                      ) -> torch.Tensor:
        """(B, L, R, D): the frame embedding followed by its K region tokens (R = 1 + K),
        or the frame alone (R = 1) without region features."""
        if regions is None:
            return regions_or_frames(frames, None)
        return torch.cat([frames[:, :, None], regions_or_frames(frames, regions)], dim=2)

    def select(self, frames: torch.Tensor, regions: torch.Tensor | None = None
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Visual tokens (B, L, R, D), selected unit indices (B, L, k) and weights (B, L, k)."""
        tokens = self.visual_tokens(frames, regions)
        indices, weights, _ = select_semantic_units(tokens, self.units, self.top_k,
                                                    self.log_selection_scale.exp())
        return tokens, indices, weights

    def forward(self, frames: torch.Tensor, text: ClassTexts,
                regions: torch.Tensor | None = None) -> torch.Tensor:
        if frames.dim() != 3 or frames.shape[-1] != self.units.shape[-1]:
            raise ValueError(f"frames {tuple(frames.shape)}: expected (B, L, "
                             f"{self.units.shape[-1]})")
        b, length, d = frames.shape
        if length > self.position.shape[0]:
            raise ValueError(f"{length} frames but position embeddings for "
                             f"{self.position.shape[0]}")
        tokens, indices, weights = self.select(frames, regions)
        queries = self.unit_projection(self.units[indices])  # (B, L, k, D)
        if self.kind_embedding is not None:
            queries = queries + self.kind_embedding(self.unit_kinds[indices])
        queries = queries + self.position[:length, None]
        for layer in self.decoder:
            queries = layer(queries, tokens)
        decoded = torch.einsum("blk,blkd->bld", weights, queries).mean(1)
        video = self.out(self.norm(decoded))
        if self.frame_residual:
            video = video + frames.mean(1)
        assert video.shape == (b, d)
        return self.logits(video, text.pooled)

    @torch.no_grad()
    def selected_units(self, frames: torch.Tensor, regions: torch.Tensor | None = None
                       ) -> tuple[torch.Tensor, torch.Tensor]:
        """Indices (B, L, k) of the units selected per frame and their weights."""
        _, indices, weights = self.select(frames, regions)
        return indices, weights
