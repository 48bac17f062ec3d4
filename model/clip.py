"""The frozen open_clip model the learner shares with the bundle's text encoder.

It is built by the contract's recipe (contract/clip.py: architectures as data in
`data/clip_configs`, seeded random weights or a checkpoint), which the corpus pipeline
uses too, and proven identical by the contract's weights hash (docs/learner.md,
"weights hash").
"""

import logging

import torch

from contract import state_dict_sha256
from contract.clip import clip_configs_dir, create_clip_model, is_clip_model
from model.errors import LearnerError

__all__ = ["clip_for_encoder_entry", "create_clip", "state_dict_sha256"]


def create_clip(model_name: str, pretrained: str, seed: int | None = 0) -> torch.nn.Module:
    """The whole open_clip model (both towers: the hash covers both) in eval mode.

    `pretrained` is `random` (seeded random weights), a local checkpoint path, or an
    open_clip tag (needs the network)."""
    if not is_clip_model(model_name):
        raise LearnerError(f"{model_name!r} is not an open_clip model name "
                           f"(nor a config in {clip_configs_dir()})")
    # open_clip logs a warning for every randomly initialised model; we say so ourselves.
    logging.getLogger().setLevel(max(logging.getLogger().level, logging.ERROR))
    try:
        return create_clip_model(model_name, pretrained, seed)
    except (RuntimeError, OSError, ValueError) as err:
        raise LearnerError(f"open_clip {model_name} pretrained={pretrained!r}: could not "
                           f"load weights ({str(err)[:200]})") from None


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
