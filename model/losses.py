"""The training loss: symmetric InfoNCE over B × C video–class logits (METHODS §1e),
Storyboard paper Eqs. (13)–(15), in which every same-class video in the batch is a
positive."""

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
