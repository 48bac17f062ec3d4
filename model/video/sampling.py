"""TSN segment sampling (Wang et al., ECCV 2016): split a clip into L equal segments and
take one frame from each — a random one when training, the centre at test time; test
views shift the position inside every segment."""

import numpy as np


def segment_indices(num_frames: int, num_segments: int, offsets: np.ndarray) -> np.ndarray:
    """Frame indices, one per segment; `offsets` (L,) in [0, 1) is the relative position
    inside each segment. Clips shorter than L frames repeat frames (in order)."""
    edges = np.arange(num_segments) * (num_frames / num_segments)
    idx = np.floor(edges + offsets * (num_frames / num_segments)).astype(np.int64)
    return np.clip(idx, 0, num_frames - 1)


def train_offsets(num_segments: int, rng: np.random.Generator) -> np.ndarray:
    return rng.random(num_segments)


def view_offsets(num_segments: int, num_views: int) -> np.ndarray:
    """(V, L) offsets for V temporal views: view k sits at (k + 0.5) / V of each segment,
    so one view is the usual centre frame."""
    return np.repeat(((np.arange(num_views) + 0.5) / num_views)[:, None], num_segments, 1)
