"""The two digests of the contract: a file's sha256 (manifest `files`) and a model's
weights hash (manifest `encoders[].weights_sha256`, feature caches' `weights_sha256`)."""

import hashlib
from pathlib import Path
from typing import Any


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def state_dict_sha256(state_dict: dict[str, Any]) -> str:
    """sha256 over a torch state_dict in its own key order: for each entry, the key's UTF-8
    bytes, then the tensor's contiguous CPU float32 bytes (native little-endian). The
    corpus pipeline records it for a bundle's text encoder; the learner recomputes it for
    the visual encoder it builds, so frame and text embeddings provably share a space."""
    digest = hashlib.sha256()
    for key, tensor in state_dict.items():
        digest.update(key.encode())
        digest.update(tensor.detach().to("cpu").float().contiguous().numpy().tobytes())
    return digest.hexdigest()
