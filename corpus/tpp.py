"""Text prompt perplexity (TPP), Storyboard/SFAR supplementary A.3 (docs/methods.md §1b).

    sigma_n = (sim(t, s_n) + 1) / 2                                   relatedness
    delta_n = 1 - 1/(N-1) * sum_{n' != n} (sim(s_n, s_n') + 1) / 2    diversity
    TPP     = exp(-(1/N) * sum_n log(alpha(sigma_n) * beta(delta_n)))

The published values (dataset mean 54-61 on Kinetics-400) only come out with
alpha(x) = 1 - x^2 and beta(x) = x, so those are the defaults. Note what they imply:
TPP rises with relatedness and FALLS with diversity (beta sits inside -log), which
contradicts the paper's prose. `beta="diversity"` (beta(x) = 1 - x) is the
prose-consistent variant: a named, non-default option.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Scaling = Callable[[np.ndarray], np.ndarray]

ALPHAS: dict[str, Scaling] = {
    "paper": lambda x: 1.0 - x**2,
}
BETAS: dict[str, Scaling] = {
    "paper": lambda x: x,
    "diversity": lambda x: 1.0 - x,
}

# alpha(1) = 0 (a sub-text identical to the class text) and beta(0) = 0 (all sub-texts
# identical) send log() to -inf and TPP to +inf. Degenerate sets are rejected before
# scoring; the clamp only keeps near-degenerate ones finite.
DEFAULT_EPSILON = 1e-6


@dataclass(frozen=True)
class TPPResult:
    tpp: float
    sigma: np.ndarray  # (N,)
    delta: np.ndarray  # (N,)


def _cosine_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    return a @ b.T


def relatedness(class_embedding: np.ndarray, subtext_embeddings: np.ndarray) -> np.ndarray:
    """sigma_c,n in [0, 1]: (N,)."""
    sim = _cosine_matrix(class_embedding[None, :], subtext_embeddings)[0]
    return (sim + 1.0) / 2.0


def diversity(subtext_embeddings: np.ndarray) -> np.ndarray:
    """delta_c,n in [0, 1]: one minus the mean scaled similarity to the other sub-texts."""
    n = subtext_embeddings.shape[0]
    if n < 2:
        raise ValueError(f"diversity needs at least 2 sub-texts, got {n}")
    scaled = (_cosine_matrix(subtext_embeddings, subtext_embeddings) + 1.0) / 2.0
    off_diagonal_sum = scaled.sum(axis=1) - np.diag(scaled)
    return 1.0 - off_diagonal_sum / (n - 1)


def tpp_terms(
    class_embedding: np.ndarray,
    subtext_embeddings: np.ndarray,
    alpha: str = "paper",
    beta: str = "paper",
    epsilon: float = DEFAULT_EPSILON,
) -> TPPResult:
    """TPP of one candidate set with its per-sub-text sigma and delta."""
    class_embedding = np.asarray(class_embedding, dtype=np.float64)
    subtext_embeddings = np.asarray(subtext_embeddings, dtype=np.float64)
    if class_embedding.ndim != 1 or subtext_embeddings.ndim != 2:
        raise ValueError(
            f"expected shapes (D,) and (N, D), got {class_embedding.shape} and "
            f"{subtext_embeddings.shape}"
        )
    if class_embedding.shape[0] != subtext_embeddings.shape[1]:
        raise ValueError(
            f"embedding dims differ: class {class_embedding.shape[0]}, "
            f"sub-texts {subtext_embeddings.shape[1]}"
        )
    sigma = relatedness(class_embedding, subtext_embeddings)
    delta = diversity(subtext_embeddings)
    terms = np.clip(ALPHAS[alpha](sigma) * BETAS[beta](delta), epsilon, None)
    return TPPResult(tpp=float(np.exp(-np.mean(np.log(terms)))), sigma=sigma, delta=delta)


def tpp_score(
    class_embedding: np.ndarray,
    subtext_embeddings: np.ndarray,
    alpha: str = "paper",
    beta: str = "paper",
    epsilon: float = DEFAULT_EPSILON,
) -> float:
    """TPP_c for one class: embeddings of shape (D,) and (N, D)."""
    return tpp_terms(class_embedding, subtext_embeddings, alpha, beta, epsilon).tpp
