"""The frozen open_clip model the learner shares with the bundle's text encoder.

Architectures are data (`data/clip_configs/*.json`, registered with open_clip by name).
Random weights are `torch.manual_seed(seed)` then `open_clip.create_model(name,
pretrained=None)`: the corpus pipeline does the same, so both ends hold the same
random model and the weights hash proves it (docs/learner.md, "weights hash").
"""

import hashlib
import logging
import os
from pathlib import Path

import torch

from model.errors import LearnerError

REPO_ROOT = Path(__file__).resolve().parents[1]


def clip_configs_dir() -> Path:
    data = Path(os.environ.get("SUBTEXT_DATA", REPO_ROOT / "data"))
    return data / "clip_configs"


def register_clip_configs() -> None:
    """Make the project's own open_clip architectures loadable by name."""
    import open_clip

    folder = clip_configs_dir()
    if folder.is_dir():
        open_clip.add_model_config(folder)


def state_dict_sha256(state_dict: dict[str, torch.Tensor]) -> str:
    """sha256 over the state_dict in its own key order: for each entry, the key's UTF-8
    bytes, then the tensor's contiguous CPU float32 bytes (native little-endian).
    The corpus pipeline computes the same digest for the manifest's `weights_sha256`."""
    digest = hashlib.sha256()
    for key, tensor in state_dict.items():
        digest.update(key.encode())
        digest.update(tensor.detach().to("cpu").float().contiguous().numpy().tobytes())
    return digest.hexdigest()


def create_clip(model_name: str, pretrained: str, seed: int | None = 0) -> torch.nn.Module:
    """The whole open_clip model (both towers: the hash covers both) in eval mode.

    `pretrained` is `random` (seeded random weights), a local checkpoint path, or an
    open_clip tag (needs the network)."""
    import open_clip

    register_clip_configs()
    if model_name not in open_clip.list_models():
        raise LearnerError(f"{model_name!r} is not an open_clip model name "
                           f"(nor a config in {clip_configs_dir()})")
    # open_clip logs a warning for every randomly initialised model; we say so ourselves.
    logging.getLogger().setLevel(max(logging.getLogger().level, logging.ERROR))
    try:
        if pretrained == "random":
            torch.manual_seed(0 if seed is None else seed)
            model = open_clip.create_model(model_name, pretrained=None)
        else:
            model = open_clip.create_model(model_name, pretrained=pretrained)
    except (RuntimeError, OSError, ValueError) as err:
        raise LearnerError(f"open_clip {model_name} pretrained={pretrained!r}: could not "
                           f"load weights ({str(err)[:200]})") from None
    return model.eval()


def clip_for_encoder_entry(entry: dict, checkpoint: str | None = None) -> torch.nn.Module:
    """Build the model a bundle's encoder entry describes and prove it is the same one.

    `checkpoint` (a local path) replaces the entry's `pretrained` when the user holds the
    weights in a file. Refuses when the weights hash differs from the manifest's."""
    pretrained = checkpoint or entry["pretrained"]
    model = create_clip(entry["model"], pretrained, entry.get("seed"))
    digest = state_dict_sha256(model.state_dict())
    if digest != entry["weights_sha256"]:
        raise LearnerError(
            f"visual encoder weights differ from the bundle's text encoder "
            f"{entry['id']!r}: built {entry['model']} pretrained={pretrained!r} "
            f"seed={entry.get('seed')} has weights_sha256 {digest[:16]}…, the manifest "
            f"records {entry['weights_sha256'][:16]}…; frame and text embeddings would "
            f"not share a space")
    return model
