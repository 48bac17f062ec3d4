"""Decoding frames with PyAV (or from extracted-frame folders) and CLIP preprocessing."""

from pathlib import Path

import av
import numpy as np
import torch
import torch.nn.functional as F

from model.video.lists import VideoItem

FRAME_TEMPLATE = "img_{:05d}.jpg"  # MMAction2's default for extracted frames (1-based)


class UnreadableVideo(Exception):
    """A video that cannot be decoded; the caller skips it and reports it."""


def decode_video(path: str) -> np.ndarray:
    """All frames of a video file as uint8 (T, H, W, 3)."""
    try:
        with av.open(path) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    except (av.FFmpegError, IndexError, OSError, ValueError) as err:
        raise UnreadableVideo(f"{type(err).__name__}: {err}") from None
    if not frames:
        raise UnreadableVideo("no decodable frames")
    return np.stack(frames)


def read_frames(item: VideoItem, num_samples: int) -> np.ndarray:
    """`num_samples` frames at the centres of equal segments, uint8 (num_samples, H, W, 3)."""
    from model.video.sampling import segment_indices, view_offsets

    if item.is_frame_dir:
        from PIL import Image

        idx = segment_indices(item.num_frames, num_samples, view_offsets(num_samples, 1)[0])
        try:
            return np.stack([np.asarray(Image.open(Path(item.path) / FRAME_TEMPLATE.format(
                i + 1)).convert("RGB")) for i in idx])
        except OSError as err:
            raise UnreadableVideo(f"{type(err).__name__}: {err}") from None
    frames = decode_video(item.path)
    idx = segment_indices(len(frames), num_samples, view_offsets(num_samples, 1)[0])
    return frames[idx]


def crop_boxes(height: int, width: int, num_crops: int) -> list[tuple[int, int, int]]:
    """Square crops (top, left, side) of the shorter side: 1 = centre; 3 = the two ends
    and the centre of the longer side (the usual 3-crop test views)."""
    side = min(height, width)
    if num_crops == 1:
        return [((height - side) // 2, (width - side) // 2, side)]
    positions = np.linspace(0, max(height, width) - side, num_crops).astype(int)
    if height >= width:
        return [(int(p), 0, side) for p in positions]
    return [(0, int(p), side) for p in positions]


def resize_normalise(x: torch.Tensor, image_size: int, mean, std) -> torch.Tensor:
    """float (..., 3, h, w) in [0, 1] -> (..., 3, image_size, image_size), CLIP-normalised.
    Bicubic with antialiasing (as PIL, which CLIP's own preprocessing uses), clamped back
    to [0, 1] because bicubic overshoots at edges."""
    if x.shape[-2:] != (image_size, image_size):
        lead = x.shape[:-3]
        x = F.interpolate(x.reshape(-1, *x.shape[-3:]), size=(image_size, image_size),
                          mode="bicubic", align_corners=False, antialias=True).clamp(0, 1)
        x = x.reshape(*lead, *x.shape[-3:])
    mean = torch.tensor(mean, dtype=x.dtype).view(3, 1, 1)
    std = torch.tensor(std, dtype=x.dtype).view(3, 1, 1)
    return (x - mean) / std


def to_unit_float(frames: np.ndarray) -> torch.Tensor:
    """uint8 (T, H, W, 3) -> float (T, 3, H, W) in [0, 1]."""
    return torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255.0


def clip_preprocess(frames: np.ndarray, image_size: int, mean, std,
                    num_crops: int = 1) -> torch.Tensor:
    """uint8 (T, H, W, 3) -> float (S, T, 3, image_size, image_size), CLIP-normalised."""
    x = to_unit_float(frames)
    return torch.stack([resize_normalise(x[:, :, top:top + side, left:left + side],
                                         image_size, mean, std)
                        for top, left, side in crop_boxes(x.shape[2], x.shape[3], num_crops)])
