"""Checkpoints: written atomically each epoch by model.train, and turned back into a head.

`load_trained_head` is the one way back from a checkpoint file to a head with its
weights, its training config and the bundle it reads text from; evaluation, the
interpretability report and the head comparison all use it.
"""

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from model.bundle import Bundle, load_bundle
from model.config import TrainConfig
from model.errors import LearnerError
from model.heads import create_head


def save_checkpoint(path: Path, state: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp-{os.getpid()}")
    torch.save(state, tmp)
    os.replace(tmp, path)  # a kill mid-write never leaves a half checkpoint


def load_checkpoint(path: Path) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for a bad file
        raise LearnerError(f"{path}: not a loadable checkpoint ({err})") from None


def head_from_config(cfg: TrainConfig, bundle: Bundle) -> torch.nn.Module:
    """A fresh head as `cfg` describes it; the bundle supplies what the head lists in
    `knowledge` (asu: units, alt: entities)."""
    return create_head(cfg.head, bundle.dim, bundle, frames=cfg.frames,
                       temperature=cfg.temperature, learn_temperature=cfg.learn_temperature,
                       **cfg.head_options)


@dataclass
class TrainedHead:
    head: torch.nn.Module  # in eval mode, with the checkpoint's weights
    cfg: TrainConfig
    state: dict  # the whole checkpoint (epoch, classes, encoder, visual, …)
    bundle: Bundle

    @property
    def classes(self) -> list[str]:
        """The classes the head was trained on."""
        return list(self.state["classes"])


def load_trained_head(checkpoint: str | Path, bundle_dir: str | Path) -> TrainedHead:
    """The head of `checkpoint` reading class text from `bundle_dir` (its training bundle,
    or another dataset's for zero-shot), refused when the bundle's text encoder is not the
    one the head was trained with."""
    state = load_checkpoint(Path(checkpoint))
    cfg = TrainConfig.model_validate(state["config"])
    bundle = load_bundle(bundle_dir, cfg.encoder)
    if bundle.encoder["weights_sha256"] != state["encoder"]["weights_sha256"]:
        raise LearnerError(f"{bundle_dir}: its text encoder weights differ from the ones "
                           f"{checkpoint} was trained with")
    head = head_from_config(cfg, bundle)
    head.load_state_dict(state["head"])
    return TrainedHead(head.eval(), cfg, state, bundle)
