"""The CLIP both sides build from a manifest's encoder entry.

Architectures are data (`data/clip_configs/*.json`, registered with open_clip by name).
Random weights are `torch.manual_seed(seed)` then `open_clip.create_model(name,
pretrained=None)`: the corpus pipeline and the learner run exactly this, so they hold
the same random model and `state_dict_sha256` proves it.
"""

from pathlib import Path

from contract.paths import data_dir

RANDOM = "random"


def clip_configs_dir() -> Path:
    return data_dir() / "clip_configs"


def register_clip_configs() -> None:
    """Make the project's own open_clip architectures loadable by name."""
    import open_clip

    folder = clip_configs_dir()
    if folder.is_dir():
        open_clip.add_model_config(folder)


def is_clip_model(name: str) -> bool:
    import open_clip

    register_clip_configs()
    return name in open_clip.list_models()


def create_clip_model(name: str, pretrained: str, seed: int | None = 0):
    """The whole open_clip model in eval mode. `pretrained`: `random` (seeded), a local
    checkpoint path, or an open_clip tag (needs the network). Library errors propagate:
    each side turns them into its own message."""
    import open_clip
    import torch

    register_clip_configs()
    if pretrained == RANDOM:
        torch.manual_seed(0 if seed is None else seed)
        model = open_clip.create_model(name, pretrained=None)
    else:
        model = open_clip.create_model(name, pretrained=pretrained)
    return model.eval()
