"""Align before Adapt (ALT, CVPR 2024; docs/methods.md §3 and §5).

Each region token is aligned to one entity of the bundle's entity corpus, and the aligned
entities' text embeddings query the visual tokens through a small video adapter:

  A_{l,k,e} = s · sim(r_{l,k}, e)                     region–entity similarity (B, L, K, E)
  z = onehot(argmax(A + g)/τ) + A~ - stopgrad(A~)    Gumbel straight-through (training)
  z = onehot(argmax A)                               plain argmax (evaluation)
  q = zE + MLP_q(zE) + p_l                           queries: aligned entity embeddings
  x = r + MLP_kv(r)                                  keys/values: visual tokens
  M × [ q += SelfAttn(q);  x += Conv1d_time(x);  q += CrossAttn(q, x);  q += FFN(q) ]
  o = MLP(mean_{l,k} q) + mean_l v_l;   logit(video, c) = sim(o, t_c) / τ

Shapes: frames (B, L, D); regions (B, L, K, D) or None, in which case each frame
embedding is its frame's single region (K = 1, `regions_or_frames`); entities (E, D).

Choices the papers leave open (each a constructor argument; table in docs/heads.md):
- `similarity_scale` (10, learnable): cosines in [-1, 1] at scale 1 would let the Gumbel
  noise (std ≈ 1.3) decide nearly every assignment; the scale is learned like CLIP's.
- `gumbel_tau` (1.0, docs/methods.md §5 [ours]), annealed exponentially to `gumbel_tau_min`
  over `gumbel_anneal_steps` training forwards (0: no annealing). The step count is a
  buffer, so it is checkpointed and a resumed run anneals exactly like an unbroken one.
- `blocks` M = 4 and `heads` 8 (docs/methods.md §5 [ours]); `kernel` 3 for the temporal
  convolution, zero-initialised so it starts as the identity (residual).
- `qk_norm` (True): LayerNorm on each head's queries and keys in every attention of the
  adapter (`Attention`): without it, M = 4 blocks at lr 3e-3 diverged through growing
  attention logits on the synthetic features and ended below mean pooling.
- Self-attention spans all L·K queries of a video (it is where queries of different
  frames meet); cross-attention goes from a frame's queries to that frame's tokens
  after the temporal convolution, which has already mixed neighbouring frames.
- The MLPs to queries and to keys/values are residual (x + MLP(x)), so queries start
  as the aligned entities' embeddings themselves.
- Learnable frame-position embeddings on the queries (the secondary reading names none;
  without them only the convolution sees frame order).
- `frame_residual` (True): the paper's video embedding is MLP(pooled queries); we add
  the mean frame embedding and zero-initialise the MLP's last layer, so the untrained
  adapter is mean pooling, as in our other heads, and training starts from the baseline.
- The entity vocabulary is a non-persistent buffer: a checkpoint holds no entity table,
  and evaluation uses the evaluation bundle's corpus (the paper builds one corpus from
  the Kinetics, HMDB and UCF labels and reuses it across datasets).
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from model.heads.registry import ContrastiveHead, regions_or_frames, register_head
from model.heads.text import ClassTexts, Entities


def gumbel_straight_through(logits: torch.Tensor, tau: float = 1.0, hard: bool = True,
                            generator: torch.Generator | None = None) -> torch.Tensor:
    """Gumbel-softmax over the last axis. hard=True: the forward value is exactly
    onehot(argmax), the backward pass is the soft sample's (straight-through).

    y = softmax((logits + g) / τ),  g = -log(-log U);
    hard: onehot(argmax y) + (y - stopgrad(y)) — written so that the correction term is
    exactly 0.0 in float arithmetic (x - x), never 1 - y + y ≠ 1."""
    # Sampled in float32 even under float16 autocast: there 1 - 1e-7 rounds to 1 and the
    # clamp below could not keep log(-log U) finite.
    uniform = torch.rand(logits.shape, generator=generator, device=logits.device,
                         dtype=torch.float32)
    # Clamped away from 0 and 1: log(0) would make a sample ±inf.
    gumbel = -torch.log(-torch.log(uniform.clamp(torch.finfo(torch.float32).tiny,
                                                 1.0 - 1e-7)))
    soft = torch.softmax((logits.float() + gumbel) / tau, dim=-1)
    if not hard:
        return soft.to(logits.dtype)
    onehot = F.one_hot(soft.argmax(-1), logits.shape[-1]).float()
    return (onehot + (soft - soft.detach())).to(logits.dtype)


def argmax_onehot(logits: torch.Tensor) -> torch.Tensor:
    """Evaluation-time alignment: the most similar entity, no noise."""
    return F.one_hot(logits.argmax(-1), logits.shape[-1]).to(logits.dtype)


def region_entity_similarity(regions: torch.Tensor, entities: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of every region with every entity: (B, L, K, D), (E, D) -> (B, L, K, E)."""
    return torch.einsum("blkd,ed->blke", F.normalize(regions, dim=-1),
                        F.normalize(entities, dim=-1))


def mlp(dim: int, hidden: int) -> nn.Sequential:
    return nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, hidden), nn.GELU(),
                         nn.Linear(hidden, dim))


class Attention(nn.Module):
    """Multi-head attention from `queries` (N, Q, D) to `context` (N, K, D), written out so
    the logits are visible (and countable by FlopCounterMode), with optional QK-norm:

      logits = LN(q_h) · LN(k_h)ᵀ / √d_h,   out = W_o concat_h softmax(logits) v_h

    Why QK-norm (Dehghani et al. 2023, ViT-22B; Wortsman et al. 2023): at lr 3e-3 the
    4-block adapter's self-attention logits grew steadily (max |logit| 2.5 → 75 over 68
    steps on the synthetic features), the attention saturated, one step collapsed the
    adapter's output to the same vector for every video, and the run never left chance
    (docs/heads.md, the `qk_norm` row). Normalising q and k per head bounds the
    logits by √d_h times the LayerNorm gains."""

    def __init__(self, dim: int, heads: int, dropout: float, qk_norm: bool):
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.query = nn.Linear(dim, dim)
        self.key_value = nn.Linear(dim, 2 * dim)
        self.out = nn.Linear(dim, dim)
        head_dim = dim // heads
        self.query_norm = nn.LayerNorm(head_dim) if qk_norm else nn.Identity()
        self.key_norm = nn.LayerNorm(head_dim) if qk_norm else nn.Identity()

    def forward(self, queries: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        n, q_len, d = queries.shape
        h = self.heads
        q = self.query(queries).reshape(n, q_len, h, d // h).transpose(1, 2)
        k, v = self.key_value(context).reshape(n, -1, 2, h, d // h).permute(2, 0, 3, 1, 4)
        q, k = self.query_norm(q), self.key_norm(k)
        weights = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // h), dim=-1)
        weights = F.dropout(weights, self.dropout, self.training)
        return self.out((weights @ v).transpose(1, 2).reshape(n, q_len, d))


class AdapterBlock(nn.Module):
    """One of the M adapter blocks: self-attention among queries, a 1-D temporal
    convolution over the visual tokens (residual), cross-attention from queries to tokens,
    and a feed-forward layer on the queries (all pre-norm)."""

    def __init__(self, dim: int, heads: int, kernel: int, dropout: float,
                 qk_norm: bool = True):
        super().__init__()
        self.norm_self = nn.LayerNorm(dim)
        self.self_attention = Attention(dim, heads, dropout, qk_norm)
        self.norm_conv = nn.LayerNorm(dim)
        self.temporal_conv = nn.Conv1d(dim, dim, kernel, padding=kernel // 2)
        nn.init.zeros_(self.temporal_conv.weight)
        nn.init.zeros_(self.temporal_conv.bias)
        self.norm_query = nn.LayerNorm(dim)
        self.norm_tokens = nn.LayerNorm(dim)
        self.cross_attention = Attention(dim, heads, dropout, qk_norm)
        self.ffn = mlp(dim, 4 * dim)

    def forward(self, queries: torch.Tensor, tokens: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """queries (B, L, Q, D), tokens (B, L, K, D) -> the same shapes."""
        b, length, q, d = queries.shape
        k = tokens.shape[2]
        x = queries.reshape(b, length * q, d)
        h = self.norm_self(x)
        x = x + self.self_attention(h, h)
        # Temporal convolution along L, separately for each region slot k.
        t = self.norm_conv(tokens).permute(0, 2, 3, 1).reshape(b * k, d, length)
        t = self.temporal_conv(t).reshape(b, k, d, length).permute(0, 3, 1, 2)
        tokens = tokens + t
        x = x.reshape(b * length, q, d)
        kv = self.norm_tokens(tokens).reshape(b * length, k, d)
        x = x + self.cross_attention(self.norm_query(x), kv)
        x = x + self.ffn(x)
        return x.reshape(b, length, q, d), tokens


@register_head("alt")
class AlignBeforeAdaptHead(ContrastiveHead):
    knowledge = ("entities",)

    def __init__(self, dim: int, entities: Entities, frames: int = 8, blocks: int = 4,
                 heads: int = 8, kernel: int = 3, dropout: float = 0.0,
                 similarity_scale: float = 10.0, gumbel_tau: float = 1.0,
                 gumbel_tau_min: float = 1.0, gumbel_anneal_steps: int = 0,
                 frame_residual: bool = True, qk_norm: bool = True, **contrastive):
        super().__init__(**contrastive)
        if entities.pooled.shape[-1] != dim:
            raise ValueError(f"entity embeddings are {entities.pooled.shape[-1]}-d, "
                             f"frames {dim}-d")
        if kernel % 2 == 0:
            raise ValueError(f"kernel {kernel} must be odd to keep L frames")
        self.register_buffer("entities", entities.pooled.float(), persistent=False)
        self.entity_ids = list(entities.ids)
        self.log_similarity_scale = nn.Parameter(torch.tensor(float(similarity_scale)).log())
        self.gumbel_tau, self.gumbel_tau_min = gumbel_tau, gumbel_tau_min
        self.gumbel_anneal_steps = gumbel_anneal_steps
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))
        heads = heads if dim % heads == 0 else 1
        self.query_mlp = mlp(dim, 2 * dim)
        self.token_mlp = mlp(dim, 2 * dim)
        self.position = nn.Parameter(torch.randn(frames, dim) * 0.02)
        self.blocks = nn.ModuleList(AdapterBlock(dim, heads, kernel, dropout, qk_norm)
                                    for _ in range(blocks))
        self.video_mlp = mlp(dim, 2 * dim)
        self.frame_residual = frame_residual
        if frame_residual:
            nn.init.zeros_(self.video_mlp[-1].weight)
            nn.init.zeros_(self.video_mlp[-1].bias)

    def tau(self) -> float:
        """The Gumbel temperature at the current training step."""
        if self.gumbel_anneal_steps <= 0:
            return self.gumbel_tau
        progress = min(1.0, int(self.steps) / self.gumbel_anneal_steps)
        return self.gumbel_tau * math.exp(progress * math.log(self.gumbel_tau_min /
                                                              self.gumbel_tau))

    def align(self, frames: torch.Tensor, regions: torch.Tensor | None = None
              ) -> tuple[torch.Tensor, torch.Tensor]:
        """Region tokens (B, L, K, D) and their entity assignment z (B, L, K, E): one-hot,
        with straight-through gradients to the similarities in training."""
        r = regions_or_frames(frames, regions)
        similarity = (self.log_similarity_scale.exp()
                      * region_entity_similarity(r, self.entities))
        if self.training:
            z = gumbel_straight_through(similarity, self.tau())
            self.steps += 1
        else:
            z = argmax_onehot(similarity)
        return r, z

    def forward(self, frames: torch.Tensor, text: ClassTexts,
                regions: torch.Tensor | None = None) -> torch.Tensor:
        if frames.dim() != 3 or frames.shape[-1] != self.entities.shape[-1]:
            raise ValueError(f"frames {tuple(frames.shape)}: expected (B, L, "
                             f"{self.entities.shape[-1]})")
        b, length, d = frames.shape
        if length > self.position.shape[0]:
            raise ValueError(f"{length} frames but position embeddings for "
                             f"{self.position.shape[0]}")
        r, z = self.align(frames, regions)
        aligned = torch.einsum("blke,ed->blkd", z, self.entities)  # aligned entities' text
        queries = aligned + self.query_mlp(aligned) + self.position[:length, None]
        tokens = r + self.token_mlp(r)
        for block in self.blocks:
            queries, tokens = block(queries, tokens)
        video = self.video_mlp(queries.mean((1, 2)))
        if self.frame_residual:
            video = video + frames.mean(1)
        assert video.shape == (b, d)
        return self.logits(video, text.pooled)

    @torch.no_grad()
    def assignments(self, frames: torch.Tensor, regions: torch.Tensor | None = None
                    ) -> torch.Tensor:
        """The entity index aligned to every region at evaluation (argmax): (B, L, K)."""
        was_training = self.training
        self.eval()
        _, z = self.align(frames, regions)
        self.train(was_training)
        return z.argmax(-1)
