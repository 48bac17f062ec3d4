"""Video embeddings for training-free scoring: the learner's feature cache or `features.npz`.

`features.npz` (docs/assess.md) holds `features` float (V, T, D) frame embeddings or
(V, D) video embeddings, `labels` int (V,) class indices and, optionally, `class_names`
(C,) str, which are then matched to the bundle's classes by name. A video embedding is the
mean of its frame (and crop) embeddings, as CLIP's zero-shot protocol for video does.
"""

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.errors import LearnerError
from model.features.cache import FeatureCache


@dataclass
class Videos:
    embeddings: np.ndarray  # (V, D) float32, not normalised
    labels: np.ndarray  # (V,) int64, indices into the bundle's classes
    origin: dict  # what they are: path, kind, encoder / weights hash when known


def from_cache(path: Path, encoder: dict, class_names: list[str]) -> Videos:
    """A feature cache made with the bundle's encoder: its weights hash must be the
    encoder's, or frame and text embeddings would not share a space."""
    cache = FeatureCache.open(path)
    made_by = cache.meta.get("weights_sha256")
    if made_by != encoder["weights_sha256"]:
        raise LearnerError(
            f"{path}: made by visual weights {str(made_by)[:16]}… "
            f"({cache.meta.get('encoder')}), not by the bundle's text encoder "
            f"{encoder['id']!r} ({encoder['weights_sha256'][:16]}…); extract the features "
            f"with this bundle, or pass --encoder for the encoder they were made with")
    if len(cache) == 0:
        raise LearnerError(f"{path}: the feature cache holds no videos")
    labels = cache.labels
    check_labels(path, labels, len(class_names))
    embeddings = cache.all().mean(axis=(1, 2))  # (V, S, T, D) -> (V, D)
    return Videos(embeddings, labels, {"path": str(path), "kind": "feature cache",
                                       "encoder": cache.meta.get("encoder"),
                                       "weights_sha256": made_by, "videos": len(cache)})


def from_npz(path: Path, encoder: dict, class_names: list[str]) -> Videos:
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise LearnerError(f"{path}: not a readable .npz file ({str(err)[:120]})") from None
    for key in ("features", "labels"):
        if key not in arrays:
            raise LearnerError(f"{path}: no '{key}' array (it has {sorted(arrays)}); "
                               f"docs/assess.md describes the file")
    features, labels = arrays["features"], arrays["labels"]
    if features.ndim not in (2, 3) or not np.issubdtype(features.dtype, np.floating):
        raise LearnerError(f"{path}: 'features' must be float (V, T, D) or (V, D); it is "
                           f"{features.dtype} {features.shape}")
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise LearnerError(f"{path}: 'labels' must be int (V,); it is {labels.dtype} "
                           f"{labels.shape}")
    if labels.shape[0] != features.shape[0]:
        raise LearnerError(f"{path}: {features.shape[0]} feature rows but {labels.shape[0]} "
                           f"labels")
    if features.shape[0] == 0:
        raise LearnerError(f"{path}: no videos")
    if features.shape[-1] != int(encoder["dim"]):
        raise LearnerError(f"{path}: features have dimension {features.shape[-1]}, the "
                           f"bundle's encoder {encoder['id']!r} has {encoder['dim']}")
    if not np.isfinite(features).all():
        raise LearnerError(f"{path}: 'features' contains NaN or infinite values")
    labels = labels.astype(np.int64)
    if "class_names" in arrays:
        labels = remap_by_name(path, labels, [str(n) for n in arrays["class_names"]],
                               class_names)
    check_labels(path, labels, len(class_names))
    embeddings = features.astype(np.float32)
    if embeddings.ndim == 3:
        embeddings = embeddings.mean(axis=1)
    return Videos(embeddings, labels, {"path": str(path), "kind": "features.npz",
                                       "encoder": None, "weights_sha256": None,
                                       "videos": int(labels.shape[0])})


def remap_by_name(path: Path, labels: np.ndarray, file_names: list[str],
                  bundle_names: list[str]) -> np.ndarray:
    """The file's label indices index its own `class_names`; map them to the bundle's."""
    check_labels(path, labels, len(file_names))
    index = {n: i for i, n in enumerate(bundle_names)}
    unknown = sorted({n for n in file_names if n not in index})
    if unknown:
        raise LearnerError(f"{path}: {len(unknown)} class name(s) not in the bundle, e.g. "
                           f"{unknown[:5]}")
    return np.array([index[file_names[i]] for i in labels], dtype=np.int64)


def check_labels(path: Path, labels: np.ndarray, n_classes: int) -> None:
    bad = labels[(labels < 0) | (labels >= n_classes)]
    if bad.size:
        raise LearnerError(f"{path}: {bad.size} label(s) outside 0..{n_classes - 1} (the "
                           f"bundle's classes), e.g. {sorted(set(bad.tolist()))[:5]}")


def load_videos(path: str | Path, encoder: dict, class_names: list[str]) -> Videos:
    path = Path(path)
    if path.is_dir():
        return from_cache(path, encoder, class_names)
    if path.is_file():
        return from_npz(path, encoder, class_names)
    raise LearnerError(f"{path}: no such feature cache (directory) or features.npz file")
