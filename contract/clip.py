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


def text_tower(model):
    """The text tower of an open_clip model (CLIP keeps it on the model itself)."""
    return model.text if hasattr(model, "text") else model


def token_embeddings(model, ids):
    """Per-token text embeddings (B, context, D) of tokenised texts `ids` (B, context): the
    final transformer outputs after `ln_final` and the text projection — the contract's
    word embeddings; the pooled embedding of a text is its end-of-text row (the highest
    id: open_clip's argmax pool)."""
    import torch

    t = text_tower(model)
    with torch.inference_mode():
        x = t.token_embedding(ids) + t.positional_embedding
        x = t.transformer(x, attn_mask=t.attn_mask)
        x = t.ln_final(x)
        proj = t.text_projection
        return proj(x) if isinstance(proj, torch.nn.Linear) else x @ proj


def pooled_text_embeddings(model, tokenizer, texts: list[str], batch_size: int = 256):
    """float32 (len(texts), D): the pooled embedding of each text, as a bundle stores it."""
    import numpy as np

    out = []
    for start in range(0, len(texts), batch_size):
        ids = tokenizer(texts[start:start + batch_size])
        x = token_embeddings(model, ids)
        out.append(x[np.arange(len(ids)), ids.argmax(dim=-1)].numpy().astype(np.float32))
    dim = int(text_tower(model).text_projection.shape[-1]) if not out else out[0].shape[1]
    return np.concatenate(out) if out else np.zeros((0, dim), np.float32)
