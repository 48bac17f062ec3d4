"""Region-aware frame features from a frozen open_clip ViT, in CLIP's joint space.

Two ways to give every frame K region tokens beside its CLS embedding (docs/methods.md §5):

* Token merging, **ToMe** (Bolya et al., ICLR 2023), the visual side of **ALT**. Inside
  every residual block, between the attention and the MLP, the tokens are split
  alternately into sets A and B; each A token is matched to its most similar B token
  (bipartite soft matching) and the r most similar pairs are merged by size-weighted
  averaging. CLS is never merged. After L blocks a frame has N − L·r patch tokens
  ("regions"); `reduce_to_k` brings them to a fixed K for the cache.
* Multi-region attention, **MRA**, the visual side of **ASU**. R region tokens, each a
  copy of CLS as it enters the last `blocks` blocks, join the sequence there; an
  attention mask lets region token i see only its own cell of a √R×√R partition of the
  patch grid, and keeps every original token from seeing any region token, so CLS and
  the patch tokens are what the plain ViT computes.

Both return (cls (B, D), regions (B, K, D)) after `ln_post` and `proj`, exactly like
open_clip's pooled output; `encode_regions_with_geometry` also returns each region's
footprint on the patch grid (B, grid, grid): the region index of every patch (ToMe: the
region its patch was merged into, tracked through every merge as ToMe's "source" matrix;
MRA: the patch's cell). Only open_clip's `VisionTransformer` with CLS pooling and
standard `ResidualAttentionBlock`s (nn.MultiheadAttention) is supported; anything else
is refused by name rather than silently computed differently.

Shapes: B images, N patch tokens (grid × grid), T = 1 + N tokens (CLS first),
C channels of the residual stream, D the joint-space dimension.
"""

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import nn

from model.errors import LearnerError

# ---------------------------------------------------------------------------------------
# Configuration. Every value the papers leave open is a named field with its reason.


@dataclass(frozen=True)
class ToMeConfig:
    method: ClassVar[str] = "tome"  # its name in REGION_METHODS and `--regions`
    # Merges per block. ALT's value is not known (docs/methods.md §5): ViT-B/16 at 224 px has
    # N = 196, L = 12, so r = 8 leaves 100 regions and r = 12 leaves 52. [ours]
    r: int = 8
    # What "similar" means for matching. ToMe's ablation (Table 1a) finds the attention
    # keys, averaged over heads, best; "tokens" matches on the block's output tokens. [ours]
    match_on: Literal["keys", "tokens"] = "keys"
    # ToMe's proportional attention, softmax(QKᵀ/√d + log s): a merged token counts as the
    # s patches it stands for. ToMe uses it for off-the-shelf models; ALT does not say.
    proportional_attention: bool = True
    # K, the regions cached per frame. None keeps all N − L·r. [ours]
    tokens: int | None = None
    # How N − L·r tokens become K. "merge": more rounds of the same bipartite soft
    # matching on the final tokens (their cosine similarity), so every patch is still
    # represented in some region; "largest": keep the K tokens that absorbed the most
    # patches (drops small regions entirely). [ours]
    reduce: Literal["merge", "largest"] = "merge"

    def regions_meta(self, k: int) -> dict:
        return {"method": "tome", "r": self.r, "R": None, "tokens": k}

    def options(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class MRAConfig:
    method: ClassVar[str] = "mra"
    # Region tokens per frame; a perfect square, partitioning the patch grid into a
    # √R × √R grid of cells. ASU says "multi-region" without the layout. [ours]
    R: int = 4
    # How many of the last blocks carry the region tokens. [ours] One block keeps the
    # partition exact: in later blocks the patch tokens themselves have mixed globally.
    blocks: int = 1
    # Whether region token i may also attend to CLS (besides itself and its cell). [ours]
    # Off: a region token is then a function of its cell (and its CLS initialisation) only.
    attend_cls: bool = False

    def regions_meta(self, k: int) -> dict:
        return {"method": "mra", "r": None, "R": self.R, "tokens": k}

    def options(self) -> dict:
        return asdict(self)


RegionConfig = ToMeConfig | MRAConfig


# ---------------------------------------------------------------------------------------
# Checks on the open_clip model.


def check_vision_transformer(visual: nn.Module) -> None:
    """Refuse encoders whose forward these functions would not reproduce."""
    from open_clip.transformer import ResidualAttentionBlock, VisionTransformer

    if not isinstance(visual, VisionTransformer):
        raise LearnerError(f"region features need open_clip's VisionTransformer, "
                           f"not {type(visual).__name__}")
    if visual.attn_pool is not None or visual.pool_type != "tok" or visual.final_ln_after_pool:
        raise LearnerError("region features need CLS pooling (pool_type 'tok', no "
                           "attentional pooler, ln_post before pooling)")
    blocks = visual.transformer.resblocks
    if not all(type(b) is ResidualAttentionBlock for b in blocks):
        raise LearnerError("region features need standard ResidualAttentionBlocks "
                           "(no qk-norm / scaled attention variants)")
    if not visual.transformer.batch_first:
        raise LearnerError("region features need a batch-first transformer")


def patch_grid(visual: nn.Module) -> int:
    """Patches per side (the grid is square for the supported encoders)."""
    grid = visual.grid_size
    if grid[0] != grid[1]:
        raise LearnerError(f"non-square patch grid {grid}")
    return int(grid[0])


def project(visual: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Residual-stream tokens (B, 1 + K, C), CLS first, into the joint space: ln_post on
    every token, then proj — the CLS path is open_clip's `_pool` + `proj` op for op, so
    the same tokens give the same bits. -> cls (B, D), regions (B, K, D)."""
    x = visual.ln_post(x)
    cls, regions = x[:, 0], x[:, 1:]
    if visual.proj is not None:
        cls, regions = cls @ visual.proj, regions @ visual.proj
    return cls, regions


# ---------------------------------------------------------------------------------------
# ToMe: bipartite soft matching and size-weighted merging (pure functions).


@dataclass
class Merge:
    """One round of bipartite soft matching, as indices into sets A (even positions) and
    B (odd positions) of a (B, T, ·) sequence. r pairs (A → B) are merged.

    unmerged (B, |A| − r): A tokens that stay, in their original order (CLS first);
    src (B, r): A tokens merged away; dst (B, r): the B token each one merges into."""

    unmerged: torch.Tensor
    src: torch.Tensor
    dst: torch.Tensor

    @property
    def r(self) -> int:
        return self.src.shape[1]

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, c) -> (B, T − r, c): [unmerged A tokens, B tokens], a merged B token
        being the SUM of itself and its sources (weighting happens in `merge_wavg`)."""
        a, b = x[:, ::2], x[:, 1::2]
        c = x.shape[-1]
        kept = a.gather(1, self.unmerged[..., None].expand(-1, -1, c))
        moved = a.gather(1, self.src[..., None].expand(-1, -1, c))
        b = b.scatter_reduce(1, self.dst[..., None].expand(-1, -1, c), moved, reduce="sum")
        return torch.cat([kept, b], dim=1)


def bipartite_soft_matching(metric: torch.Tensor, r: int, protect_first: bool = True
                            ) -> Merge:
    """ToMe's matching step (Bolya et al. 2023, §3.2) on metric (B, T, c).

    Tokens alternate into A (even) and B (odd); every A token draws one edge to its most
    cosine-similar B token; the r strongest edges are merged. With `protect_first` the
    first token (CLS) gets no edge, so it is never merged. Raises when r exceeds the
    mergeable A tokens (ToMe silently clamps; the cache promises exactly N − L·r)."""
    mergeable = (metric.shape[1] + 1) // 2 - int(protect_first)
    if r > mergeable:
        raise LearnerError(f"cannot merge {r} pairs among {metric.shape[1]} tokens "
                           f"(at most {mergeable})")
    with torch.no_grad():
        metric = F.normalize(metric.float(), dim=-1)
        scores = metric[:, ::2] @ metric[:, 1::2].transpose(1, 2)  # (B, |A|, |B|)
        if protect_first:
            scores[:, 0] = -math.inf
        best, best_b = scores.max(dim=-1)  # (B, |A|)
        # Stable sort: ties (e.g. identical patches) are broken by position, so the
        # result does not depend on the sort kernel.
        order = best.argsort(dim=-1, descending=True, stable=True)
        src = order[:, :r]
        unmerged = order[:, r:].sort(dim=-1).values  # keeps CLS at position 0
        dst = best_b.gather(1, src)
    return Merge(unmerged, src, dst)


def merge_wavg(merge: Merge, x: torch.Tensor, size: torch.Tensor,
               extra: torch.Tensor | None = None
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Size-weighted average merge: x (B, T, C), size (B, T, 1) -> (B, T − r, ·).

    A merged token is Σ sᵢxᵢ / Σ sᵢ over the tokens it absorbs and its size is Σ sᵢ, so
    the size-weighted mean of all tokens is unchanged by merging. `extra` (B, T, e) is
    averaged the same way (we carry each token's patch-grid centroid in it)."""
    total = merge.apply(size)
    x = merge.apply(x * size) / total
    if extra is not None:
        extra = merge.apply(extra * size) / total
    return x, total, extra


def attention_with_keys(attn: nn.MultiheadAttention, x: torch.Tensor,
                        size: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """nn.MultiheadAttention's self-attention on x (B, T, C), also returning the keys
    averaged over heads (B, T, C/h) for matching. With `size` (B, T, 1), proportional
    attention: log s is added to every query's logits for key s (ToMe Eq. 1)."""
    b, t, c = x.shape
    h = attn.num_heads
    qkv = F.linear(x, attn.in_proj_weight, attn.in_proj_bias).view(b, t, 3, h, c // h)
    q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each (B, h, T, C/h)
    bias = None if size is None else size.log().view(b, 1, 1, t).to(q.dtype)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
    out = attn.out_proj(out.transpose(1, 2).reshape(b, t, c))
    return out, k.mean(dim=1)


def tome_block(block: nn.Module, x: torch.Tensor, size: torch.Tensor, centroid: torch.Tensor,
               source: torch.Tensor, r: int, cfg: ToMeConfig
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """One open_clip ResidualAttentionBlock with r merges between attention and MLP (where
    ToMe puts them). x (B, T, C), size (B, T, 1), centroid (B, T, 2), source (B, T, N)
    -> T − r tokens."""
    if r == 0 and not (cfg.proportional_attention and bool((size != 1).any())):
        # Nothing to merge and nothing to weight: the block's own forward, bit for bit.
        return block(x), size, centroid, source
    weights = size if cfg.proportional_attention else None
    out, keys = attention_with_keys(block.attn, block.ln_1(x), weights)
    x = x + block.ls_1(out)
    if r:
        merge = bipartite_soft_matching(keys if cfg.match_on == "keys" else x, r)
        x, size, centroid = merge_wavg(merge, x, size, centroid)
        source = merge.apply(source)
    x = x + block.ls_2(block.mlp(block.ln_2(x)))
    return x, size, centroid, source


def patches_after_merging(n: int, blocks: int, r: int) -> int:
    """N − L·r, after checking every block can merge r pairs (CLS excluded)."""
    for i in range(blocks):
        if r > n // 2:
            raise LearnerError(f"ToMe r={r}: block {i + 1} has only {n} patch tokens, at "
                               f"most {n // 2} merges; lower r")
        n -= r
    return n


def reduce_to_k(x: torch.Tensor, size: torch.Tensor, centroid: torch.Tensor,
                source: torch.Tensor, k: int, how: str
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Patch tokens x (B, n, C) with size, centroid and source (B, n, N) -> exactly k
    tokens, ordered by their centroid in raster order (row, then column) so a region's
    index means roughly the same place in every frame rather than the merge order."""
    n = x.shape[1]
    if k > n:
        raise LearnerError(f"{k} region tokens requested but only {n} remain")
    if how == "largest":
        keep = size[..., 0].argsort(dim=1, descending=True, stable=True)[:, :k]
        x, size, centroid, source = (
            t.gather(1, keep[..., None].expand(-1, -1, t.shape[-1]))
            for t in (x, size, centroid, source))
    elif how == "merge":
        while x.shape[1] > k:
            r = min(x.shape[1] - k, x.shape[1] // 2)
            merge = bipartite_soft_matching(x, r, protect_first=False)
            x, size, centroid = merge_wavg(merge, x, size, centroid)
            source = merge.apply(source)
    else:
        raise LearnerError(f"unknown region reduction {how!r}")
    # Row-major key: any factor above the grid side orders by row first.
    order = (centroid[..., 0] * 1e4 + centroid[..., 1]).argsort(dim=1, stable=True)
    x, size, centroid, source = (t.gather(1, order[..., None].expand(-1, -1, t.shape[-1]))
                                 for t in (x, size, centroid, source))
    return x, size, centroid, source


def tome_tokens(visual: nn.Module, images: torch.Tensor, cfg: ToMeConfig
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The merged ViT's residual stream after the last block: tokens (B, 1 + n, C) with
    CLS first, sizes (B, 1 + n, 1) in patches, centroids (B, 1 + n, 2) in patch units and
    sources (B, 1 + n, N): source[b, i, p] = 1 where patch p was merged into token i
    (ToMe's source tracking; CLS's row is 0: it stands for no patch); n = N − L·r."""
    check_vision_transformer(visual)
    x = visual._embeds(images)
    b, t, _ = x.shape
    grid = patch_grid(visual)
    blocks = visual.transformer.resblocks
    patches_after_merging(t - 1, len(blocks), cfg.r)
    size = x.new_ones(b, t, 1)
    rows, cols = torch.meshgrid(torch.arange(grid), torch.arange(grid), indexing="ij")
    centroid = torch.stack([rows.flatten(), cols.flatten()], dim=1).to(x)
    centroid = torch.cat([centroid.new_full((1, 2), -1.0), centroid])  # CLS: nowhere
    centroid = centroid.expand(b, -1, -1)
    # One-hot rows summed by every merge (Merge.apply): 0/1 entries stay exact in any
    # float dtype. (B, T, N) is ~40 MB for 256 ViT-B/16 frames in float32.
    source = torch.cat([x.new_zeros(1, t - 1), torch.eye(t - 1, dtype=x.dtype,
                                                          device=x.device)])
    source = source.expand(b, -1, -1).contiguous()
    for block in blocks:
        x, size, centroid, source = tome_block(block, x, size, centroid, source, cfg.r, cfg)
    return x, size, centroid, source


# A patch that belongs to no cached region (ToMe `reduce="largest"` drops small regions).
# The largest uint16, the dtype of the cached region maps.
NO_REGION = 65535


def region_map(source: torch.Tensor, grid: int) -> torch.Tensor:
    """Sources (B, K, N) of the K cached regions -> (B, grid, grid) int64: the region
    index of every patch, NO_REGION where no region holds it."""
    covered = source.sum(1) > 0
    index = source.argmax(1).masked_fill(~covered, NO_REGION)
    return index.view(-1, grid, grid)


def encode_tome_with_geometry(visual: nn.Module, images: torch.Tensor, cfg: ToMeConfig
                              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """images (B, 3, H, W) -> cls (B, D), regions (B, K, D) in the joint space and the
    regions' footprints (B, grid, grid) (`region_map`)."""
    x, size, centroid, source = tome_tokens(visual, images, cfg)
    k = cfg.tokens if cfg.tokens is not None else x.shape[1] - 1
    patches, _, _, source = reduce_to_k(x[:, 1:], size[:, 1:], centroid[:, 1:],
                                        source[:, 1:], k, cfg.reduce)
    cls, regions = project(visual, torch.cat([x[:, :1], patches], dim=1))
    return cls, regions, region_map(source, patch_grid(visual))


def encode_tome(visual: nn.Module, images: torch.Tensor, cfg: ToMeConfig
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """images (B, 3, H, W) -> cls (B, D), regions (B, K, D) in the joint space.
    With r = 0 and K = N, cls is bit for bit open_clip's `visual(images)`."""
    cls, regions, _ = encode_tome_with_geometry(visual, images, cfg)
    return cls, regions


# ---------------------------------------------------------------------------------------
# MRA: region tokens restricted to cells of the patch grid.


def mra_partition(grid: int, regions: int) -> torch.Tensor:
    """(grid²,) the cell (0..R−1, raster order) of every patch for a √R × √R partition."""
    side = math.isqrt(regions)
    if side * side != regions or not 1 <= side <= grid:
        raise LearnerError(f"MRA R={regions}: must be a square number with √R ≤ {grid} "
                           f"(the patch grid side)")
    cell = torch.arange(grid) * side // grid  # rows/cols split as evenly as the grid allows
    return (cell[:, None] * side + cell[None, :]).flatten()


def mra_attention_mask(grid: int, regions: int, attend_cls: bool = False) -> torch.Tensor:
    """Boolean (T + R, T + R), True where query row may attend to key column, for the
    sequence [CLS, N patches, R region tokens]. Original tokens see only original tokens
    (so CLS and patches are the plain ViT's); region token i sees itself, the patches of
    cell i and, with `attend_cls`, CLS."""
    n = grid * grid
    t = 1 + n
    allowed = torch.zeros(t + regions, t + regions, dtype=torch.bool)
    allowed[:t, :t] = True
    cell = mra_partition(grid, regions)
    allowed[t:, 1:t] = cell[None, :] == torch.arange(regions)[:, None]
    allowed[t:, t:] = torch.eye(regions, dtype=torch.bool)
    allowed[t:, 0] = attend_cls
    return allowed


def mra_blocks_forward(blocks: list[nn.Module], x: torch.Tensor, grid: int, cfg: MRAConfig
                       ) -> torch.Tensor:
    """Run `blocks` on x (B, T, C) — the residual stream entering the first MRA block —
    with R region tokens initialised from CLS appended: -> (B, T + R, C)."""
    allowed = mra_attention_mask(grid, cfg.R, cfg.attend_cls).to(x.device)
    # Additive mask: nn.MultiheadAttention adds a float mask to the logits.
    mask = torch.zeros(allowed.shape, dtype=x.dtype, device=x.device)
    mask.masked_fill_(~allowed, -math.inf)
    x = torch.cat([x, x[:, :1].expand(-1, cfg.R, -1)], dim=1)
    for block in blocks:
        x = x + block.ls_1(block.attention(q_x=block.ln_1(x), attn_mask=mask))
        x = x + block.ls_2(block.mlp(block.ln_2(x)))
    return x


def encode_mra(visual: nn.Module, images: torch.Tensor, cfg: MRAConfig
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """images (B, 3, H, W) -> cls (B, D), regions (B, R, D) in the joint space."""
    check_vision_transformer(visual)
    blocks = list(visual.transformer.resblocks)
    if not 1 <= cfg.blocks <= len(blocks):
        raise LearnerError(f"MRA blocks={cfg.blocks}: the encoder has {len(blocks)} blocks")
    x = visual._embeds(images)
    for block in blocks[:len(blocks) - cfg.blocks]:
        x = block(x)
    x = mra_blocks_forward(blocks[len(blocks) - cfg.blocks:], x, patch_grid(visual), cfg)
    return project(visual, torch.cat([x[:, :1], x[:, -cfg.R:]], dim=1))


# ---------------------------------------------------------------------------------------
# The registry extraction and benchmarks use: a region method is its config class, how many
# tokens it caches, its encoders, and how the extraction CLI's options make a config.


def tome_count(visual: nn.Module, cfg: ToMeConfig) -> int:
    left = patches_after_merging(patch_grid(visual) ** 2, len(visual.transformer.resblocks),
                                 cfg.r)
    k = left if cfg.tokens is None else cfg.tokens
    if not 1 <= k <= left:
        raise LearnerError(f"ToMe r={cfg.r} leaves {left} region tokens; cannot cache {k}")
    return k


def mra_count(visual: nn.Module, cfg: MRAConfig) -> int:
    mra_partition(patch_grid(visual), cfg.R)
    return cfg.R


def encode_mra_with_geometry(visual: nn.Module, images: torch.Tensor, cfg: MRAConfig
                             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    cls, regions = encode_mra(visual, images, cfg)
    grid = patch_grid(visual)
    cells = mra_partition(grid, cfg.R).view(1, grid, grid).to(images.device)
    return cls, regions, cells.expand(len(images), -1, -1)


def tome_from_cli(r: int | None, regions: int | None, tokens: int | None) -> ToMeConfig:
    if regions is not None:
        raise LearnerError("--R is for --regions mra")
    return ToMeConfig(r=ToMeConfig.r if r is None else r, tokens=tokens)


def mra_from_cli(r: int | None, regions: int | None, tokens: int | None) -> MRAConfig:
    if r is not None or tokens is not None:
        raise LearnerError("--r and --tokens are for --regions tome")
    return MRAConfig(R=MRAConfig.R if regions is None else regions)


@dataclass(frozen=True)
class RegionMethod:
    count: Callable[[nn.Module, Any], int]  # K for an encoder and config (checked)
    encode: Callable[..., tuple[torch.Tensor, torch.Tensor]]  # -> cls (B, D), (B, K, D)
    encode_with_geometry: Callable[..., tuple[torch.Tensor, torch.Tensor, torch.Tensor]]
    from_cli: Callable[[int | None, int | None, int | None], Any]  # (r, R, tokens) -> config


REGION_METHODS: dict[str, RegionMethod] = {
    ToMeConfig.method: RegionMethod(tome_count, encode_tome, encode_tome_with_geometry,
                                    tome_from_cli),
    MRAConfig.method: RegionMethod(mra_count, encode_mra, encode_mra_with_geometry,
                                   mra_from_cli),
}


def region_count(visual: nn.Module, cfg: RegionConfig) -> int:
    """K for this encoder and config (checked, so a bad r / R fails before extraction)."""
    check_vision_transformer(visual)
    return REGION_METHODS[cfg.method].count(visual, cfg)


def encode_regions_with_geometry(visual: nn.Module, images: torch.Tensor, cfg: RegionConfig
                                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """images (B, 3, H, W) -> cls (B, D), regions (B, K, D) and the region index of every
    patch (B, grid, grid) int64 (NO_REGION: in no cached region)."""
    return REGION_METHODS[cfg.method].encode_with_geometry(visual, images, cfg)


def encode_regions(visual: nn.Module, images: torch.Tensor, cfg: RegionConfig
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """images (B, 3, H, W) -> cls (B, D), regions (B, K, D)."""
    return REGION_METHODS[cfg.method].encode(visual, images, cfg)


def region_config(method: str, r: int | None = None, regions: int | None = None,
                  tokens: int | None = None) -> RegionConfig:
    """The config the extraction CLI names: `tome` (with r, tokens) or `mra` (with R)."""
    if method not in REGION_METHODS:
        raise LearnerError(f"unknown region method {method!r} ({' or '.join(REGION_METHODS)})")
    return REGION_METHODS[method].from_cli(r, regions, tokens)
