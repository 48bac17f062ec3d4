"""The Storyboard head (SFAR, NeurIPS 2025; docs/methods.md §1c–1e).

Frame embeddings first pass through the temporal transformer of the `temporal` head:
the paper builds its two branches on that baseline (ablation: 79.9 mean → 80.3
temporal → 84.5 both branches), and a weighted average of raw frame embeddings could not
tell a motion from its reverse. Then, per class c:

  T^_c = Attention(T_c W_q, [S_c,n W_k]_n, [S_c,n W_v]_n) + T_c           Eqs. (5)–(7)
  a^coarse = coarse_frame_weights(T^_c, x)   o^coarse = Σ_l a_l x_l      Eqs. (8)–(9)
  a^fine   = fine_frame_weights(S_c, x)      o^fine   = Σ_l a_l x_l      Eqs. (10)–(11)
  o_c = FFN_coarse(o^coarse) + FFN_fine(o^fine);  logit = sim(o_c, t_c)/τ  Eq. (12)

Choices the paper leaves open:
- Eq. (8) prints exp() only in the numerator; we read it as a softmax over frames, and
  divide the sum over word rows by the word count so the weights sum to 1 (docs/methods.md §1c).
- The similarities inside both softmaxes are cosines in [-1, 1], which makes a softmax
  at scale 1 (the literal equations) nearly uniform over frames; the head multiplies
  them by a learnable scale per branch (`weight_scale`, initialised to 10). The pure
  functions take the scale as an argument, default 1 (the literal equations).
- "Attention" is one multi-head attention layer (8 heads when D allows) with W_q, W_k,
  W_v inside it, keys/values the concatenated words of the N sub-texts.
- Each FFN is Linear-GELU-Linear (hidden 2D) added to its input, the last layer
  initialised to zero: at initialisation o_c = o^coarse + o^fine, the temporal
  baseline's pooling with two weightings, so training starts from the baseline.
"""

import torch
import torch.nn.functional as F
from torch import nn

from model.heads.registry import ContrastiveHead, register_head
from model.heads.temporal import TemporalTransformer
from model.heads.text import ClassTexts


def coarse_frame_weights_batched(words: torch.Tensor, word_mask: torch.Tensor,
                                 frames: torch.Tensor, scale: float | torch.Tensor = 1.0
                                 ) -> torch.Tensor:
    """Eq. (8), batched. words (C, W, D) augmented word embeddings T^_c, word_mask (C, W),
    frames (B, L, D) -> (B, C, L) weights summing to 1 over L.

    a_l = (1/W) Σ_{t^ ∈ T^_c} softmax_l(scale · sim(t^, v_l))."""
    sims = torch.einsum("cwd,bld->bcwl", F.normalize(words, dim=-1),
                        F.normalize(frames, dim=-1))
    per_word = torch.softmax(scale * sims, dim=-1)  # over frames
    m = word_mask.to(per_word.dtype)[None, :, :, None]
    return (per_word * m).sum(2) / m.sum(2).clamp(min=1)


def fine_frame_weights_batched(subwords: torch.Tensor, sub_mask: torch.Tensor,
                               frames: torch.Tensor, scale: float | torch.Tensor = 1.0
                               ) -> torch.Tensor:
    """Eq. (10), batched. subwords (C, N, S, D) word embeddings of each class's N
    sub-texts, sub_mask (C, N, S), frames (B, L, D) -> (B, C, L) summing to 1 over L.

    a_l = softmax_l(scale · max_n mean_{s ∈ S_c,n} sim(s, v_l)).
    The mean of cosines with one frame is the dot product of the frame's unit vector
    with the mean of the sub-text's unit word vectors, so no (B, C, N, S, L) tensor."""
    m = sub_mask.to(subwords.dtype)[..., None]
    mean_words = (F.normalize(subwords, dim=-1) * m).sum(2) / m.sum(2).clamp(min=1)
    per_subtext = torch.einsum("cnd,bld->bcnl", mean_words, F.normalize(frames, dim=-1))
    present = sub_mask.any(-1)[None, :, :, None]  # (1, C, N, 1): padded sub-texts never win
    best = per_subtext.masked_fill(~present, float("-inf")).amax(2)
    return torch.softmax(scale * best, dim=-1)


def coarse_frame_weights(word_embeddings: torch.Tensor, frames: torch.Tensor,
                         scale: float = 1.0) -> torch.Tensor:
    """Eq. (8) for one class and one video: word_embeddings (W, D), frames (L, D) -> (L,)."""
    mask = torch.ones(word_embeddings.shape[0], dtype=torch.bool)
    return coarse_frame_weights_batched(word_embeddings[None], mask[None], frames[None],
                                        scale)[0, 0]


def fine_frame_weights(subtext_word_embeddings: list[torch.Tensor], frames: torch.Tensor,
                       scale: float = 1.0) -> torch.Tensor:
    """Eq. (10) for one class and one video: N sub-texts of (W_n, D), frames (L, D) -> (L,)."""
    longest = max(s.shape[0] for s in subtext_word_embeddings)
    dim = frames.shape[-1]
    padded = torch.zeros(1, len(subtext_word_embeddings), longest, dim, dtype=frames.dtype)
    mask = torch.zeros(1, len(subtext_word_embeddings), longest, dtype=torch.bool)
    for n, s in enumerate(subtext_word_embeddings):
        padded[0, n, : len(s)], mask[0, n, : len(s)] = s, True
    return fine_frame_weights_batched(padded, mask, frames[None], scale)[0, 0]


class ResidualFFN(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.net = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, 2 * dim), nn.GELU(),
                                 nn.Linear(2 * dim, dim))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.net(x)


@register_head("storyboard")
class StoryboardHead(ContrastiveHead):
    def __init__(self, dim: int, layers: int = 6, heads: int = 8, frames: int = 8,
                 dropout: float = 0.0, weight_scale: float = 10.0,
                 branches: tuple[str, ...] = ("coarse", "fine"), **contrastive):
        super().__init__(**contrastive)
        if not branches or set(branches) - {"coarse", "fine"}:
            raise ValueError(f"branches must be a non-empty subset of coarse, fine: {branches}")
        self.branches = tuple(branches)
        self.temporal = TemporalTransformer(dim, layers, heads, frames, dropout)
        attn_heads = heads if dim % heads == 0 else 1
        self.augment = nn.MultiheadAttention(dim, attn_heads, batch_first=True)
        self.log_weight_scale = nn.Parameter(torch.full((2,), float(weight_scale)).log())
        self.ffn = nn.ModuleDict({b: ResidualFFN(dim) for b in self.branches})

    def augmented_words(self, text: ClassTexts) -> torch.Tensor:
        """Eqs. (5)–(7): T^_c, (C, W, D)."""
        c, n, s, d = text.subwords.shape
        keys = text.subwords.reshape(c, n * s, d)
        attended, _ = self.augment(text.words, keys, keys,
                                   key_padding_mask=~text.sub_mask.reshape(c, n * s),
                                   need_weights=False)
        return attended + text.words

    def frame_weights(self, frames: torch.Tensor, text: ClassTexts
                      ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Temporal-transformer outputs (B, L, D) and each branch's weights (B, C, L)."""
        x = self.temporal(frames)
        scale = self.log_weight_scale.exp()
        weights = {}
        if "coarse" in self.branches:
            weights["coarse"] = coarse_frame_weights_batched(
                self.augmented_words(text), text.word_mask, x, scale[0])
        if "fine" in self.branches:
            weights["fine"] = fine_frame_weights_batched(text.subwords, text.sub_mask, x,
                                                         scale[1])
        return x, weights

    def forward(self, frames: torch.Tensor, text: ClassTexts,
                regions: torch.Tensor | None = None) -> torch.Tensor:
        # No region branch: `regions` is accepted (the common head interface) and unused.
        x, weights = self.frame_weights(frames, text)
        # Eqs. (9), (11), (12): per-class weighted frames, each through its FFN, summed.
        video = sum(self.ffn[b](torch.einsum("bcl,bld->bcd", a, x))
                    for b, a in weights.items())
        return self.logits(video, text.pooled)
