"""Train-time augmentation for `mode: finetune`, as the Storyboard paper trains
(docs/methods.md §1f): RandomSizedCrop to the encoder's input size, horizontal flip with p = 0.5,
grayscale with p = 0.2.

One draw per clip: every frame of a video gets the same crop, flip and colour change,
as in video CLIP training (the group transforms of ActionCLIP and X-CLIP); a crop that
moved between frames would itself look like motion. Every draw comes from the caller's
generator, so a clip is a pure function of (frames, settings, generator state) and runs
resume exactly.
"""

import math
from dataclasses import dataclass

import numpy as np
import torch

from model.video.decode import resize_normalise, to_unit_float

# ITU-R 601-2 luma, the weights of PIL's "L" mode and torchvision's rgb_to_grayscale.
LUMA = (0.299, 0.587, 0.114)


@dataclass(frozen=True)
class Augmentation:
    """Settings of `augment_clip`; the defaults are the paper's. torchvision's
    RandomSizedCrop (the deprecated name of RandomResizedCrop) draws the area fraction
    from [0.08, 1] and the aspect ratio log-uniformly from [3/4, 4/3]."""

    crop_scale: tuple[float, float] = (0.08, 1.0)  # fraction of the frame's area
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)  # width / height
    flip: float = 0.5  # probability of a horizontal flip
    grayscale: float = 0.2  # probability of replacing colour by luma

    def __post_init__(self):
        low, high = self.crop_scale
        if not 0 < low <= high <= 1:
            raise ValueError(f"crop_scale {self.crop_scale}: need 0 < low <= high <= 1")
        low, high = self.crop_ratio
        if not 0 < low <= high:
            raise ValueError(f"crop_ratio {self.crop_ratio}: need 0 < low <= high")
        for name in ("flip", "grayscale"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} {getattr(self, name)}: a probability is in [0, 1]")


def random_resized_box(height: int, width: int, scale: tuple[float, float],
                       ratio: tuple[float, float], rng: np.random.Generator
                       ) -> tuple[int, int, int, int]:
    """(top, left, box_height, box_width) of a crop covering a fraction in `scale` of the
    frame's area at an aspect ratio (width / height) in `ratio`, drawn as torchvision's
    RandomResizedCrop draws it: up to 10 tries, then the largest centred box whose aspect
    ratio is clamped into `ratio`."""
    area = height * width
    log_low, log_high = math.log(ratio[0]), math.log(ratio[1])
    for _ in range(10):
        target = area * rng.uniform(*scale)
        aspect = math.exp(rng.uniform(log_low, log_high))
        box_w = round(math.sqrt(target * aspect))
        box_h = round(math.sqrt(target / aspect))
        if 0 < box_w <= width and 0 < box_h <= height:
            return (int(rng.integers(height - box_h + 1)), int(rng.integers(width - box_w + 1)),
                    box_h, box_w)
    aspect = width / height
    if aspect < ratio[0]:
        box_w, box_h = width, round(width / ratio[0])
    elif aspect > ratio[1]:
        box_w, box_h = round(height * ratio[1]), height
    else:
        box_w, box_h = width, height
    return (height - box_h) // 2, (width - box_w) // 2, box_h, box_w


def to_grayscale(x: torch.Tensor) -> torch.Tensor:
    """(..., 3, H, W) -> the same shape, every channel the luma."""
    luma = torch.einsum("...chw,c->...hw", x, torch.tensor(LUMA, dtype=x.dtype))
    return luma.unsqueeze(-3).expand_as(x).contiguous()


def augment_clip(frames: np.ndarray, augmentation: Augmentation, image_size: int, mean, std,
                 rng: np.random.Generator) -> torch.Tensor:
    """uint8 (T, H, W, 3) -> float (T, 3, image_size, image_size), CLIP-normalised: one
    random resized crop, flip and grayscale draw, applied to every frame."""
    top, left, box_h, box_w = random_resized_box(frames.shape[1], frames.shape[2],
                                                 augmentation.crop_scale,
                                                 augmentation.crop_ratio, rng)
    x = to_unit_float(frames[:, top:top + box_h, left:left + box_w])
    if rng.random() < augmentation.flip:
        x = x.flip(-1)
    if rng.random() < augmentation.grayscale:
        x = to_grayscale(x)
    return resize_normalise(x, image_size, mean, std)
