"""The training losses over B × C video–class logits, behind a registry (`LOSSES`):

- `infonce` (default): the symmetric InfoNCE of docs/methods.md §1e, Storyboard paper Eqs.
  (13)–(15), in which every same-class video in the batch is a positive; for multi-label
  data every (video, labelled class) pair is a positive (`multi_positive_infonce`).
- `bce`: per-class sigmoid binary cross-entropy, the usual Charades loss.

Each takes (logits (B, C), targets (B, C) multi-hot, v2t_weight λ)."""

from collections.abc import Callable

import torch
import torch.nn.functional as F


def symmetric_infonce(logits: torch.Tensor, labels: torch.Tensor,
                      v2t_weight: float = 1.0) -> torch.Tensor:
    """L = L_T2V + λ L_V2T for logits (B, C) (already divided by the temperature) and
    labels (B,). k_b is the set of batch videos sharing video b's class (b included).

    T2V (Eq. 13): for each b, the mean over b' ∈ k_b of -log softmax over the batch
    videos of column c_gt(b), at b'.
    V2T (Eq. 14): for each b, the mean over b' ∈ k_b of -log softmax over the classes
    of row b', at c_gt(b).
    """
    same = (labels[:, None] == labels[None, :]).to(logits.dtype)  # (B, B): b' ∈ k_b
    k = same.sum(0)  # |k_b|
    log_col = F.log_softmax(logits[:, labels], dim=0)  # [b', b]: over videos, class of b
    t2v = -((same * log_col).sum(0) / k).mean()
    log_row = F.log_softmax(logits, dim=1)[:, labels]  # [b', b]: over classes, class of b
    v2t = -((same * log_row).sum(0) / k).mean()
    return t2v + v2t_weight * v2t


def positive_pairs_infonce(logits: torch.Tensor, targets: torch.Tensor,
                           v2t_weight: float = 1.0) -> torch.Tensor:
    """`symmetric_infonce` for multi-hot targets (B, C): the mean over every positive pair
    (b, c) of -log softmax over batch videos of column c at b (T2V), plus λ times the
    mean over the same pairs of -log softmax over classes of row b at c (V2T).

    With one label per video this equals `symmetric_infonce` (grouping its per-video
    terms by class gives the sum over positive pairs divided by B); with several, a
    video's row softmax has several positives, each pulled up equally."""
    targets = targets.to(logits.dtype)
    pairs = targets.sum()
    t2v = -(targets * F.log_softmax(logits, dim=0)).sum() / pairs
    v2t = -(targets * F.log_softmax(logits, dim=1)).sum() / pairs
    return t2v + v2t_weight * v2t


def multi_positive_infonce(logits: torch.Tensor, targets: torch.Tensor,
                           v2t_weight: float = 1.0) -> torch.Tensor:
    """The `infonce` loss: `positive_pairs_infonce`, computed through Eqs. 13–15 as
    written when every video has one label (the same value; it keeps single-label runs
    bitwise identical to those made before multi-label training existed)."""
    if bool((targets.sum(1) == 1).all()):
        return symmetric_infonce(logits, targets.argmax(1), v2t_weight)
    return positive_pairs_infonce(logits, targets, v2t_weight)


def sigmoid_bce(logits: torch.Tensor, targets: torch.Tensor,
                v2t_weight: float = 1.0) -> torch.Tensor:
    """Per-class sigmoid BCE, averaged over B × C; `v2t_weight` is unused (no direction).
    The logits are scaled cosines with no bias, so a class is predicted present when its
    cosine is above 0."""
    return F.binary_cross_entropy_with_logits(logits, targets.to(logits.dtype))


LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]] = {
    "infonce": multi_positive_infonce,
    "bce": sigmoid_bce,
}
