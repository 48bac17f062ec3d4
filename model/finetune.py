"""`mode: finetune`: the open_clip visual encoder trained end to end with a head, on frames
decoded from a list file at every step (docs/methods.md §1f: text encoder frozen, visual encoder
fine-tuned). The text side stays the bundle's embeddings.

`DecodedClips` stands where the feature cache stands in features mode (same `labels`,
`label_sets`, `paths`, `failed`), and yields pixel batches instead of cached features.
Every random choice (TSN offsets; the augmentation's crop, flip and grayscale) comes from
a generator seeded by (seed, epoch, video), as in `model.data`, so runs resume exactly and
do not depend on the number of ranks or decoding workers.

A checkpoint's fine-tuned tower (`checkpoint_visual`) is evaluated by encoding the test
videos with it into a feature cache (model.evaluate `--list`), then as in features mode.
"""

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from model.bundle import Bundle
from model.clip import clip_for_encoder_entry
from model.video.augment import Augmentation, augment_clip
from model.video.decode import UnreadableVideo, clip_preprocess, decode_video
from model.video.lists import VideoItem, read_list
from model.video.sampling import segment_indices, train_offsets


class FinetuneModel(nn.Module):
    """Visual encoder per frame, then the head: pixels (B, L, 3, H, W) -> logits (B, C)."""

    def __init__(self, visual: nn.Module, head: nn.Module):
        super().__init__()
        self.visual, self.head = visual, head

    def forward(self, pixels: torch.Tensor, text, regions=None) -> torch.Tensor:
        b, length = pixels.shape[:2]
        frames = self.visual(pixels.flatten(0, 1)).reshape(b, length, -1)
        return self.head(frames, text, regions=regions)


def load_visual(bundle: Bundle, checkpoint: str | None = None) -> nn.Module:
    """The bundle's CLIP visual tower (weights hash checked against the manifest); the
    text tower is dropped: its embeddings are in the bundle."""
    return clip_for_encoder_entry(bundle.encoder, checkpoint).visual


def checkpoint_visual(bundle: Bundle, state: dict) -> nn.Module:
    """The fine-tuned visual tower of a `mode: finetune` checkpoint, in eval mode: built as
    training built it (`load_visual`, so architecture details a pretrained tag implies,
    such as QuickGELU, match), then given the checkpoint's weights."""
    visual = load_visual(bundle)
    visual.load_state_dict(state["visual"])
    return visual.eval()


class _Probe(Dataset):
    def __init__(self, items: list[VideoItem]):
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> str | None:
        try:
            _decode(self.items[i])
        except UnreadableVideo as err:
            return str(err)
        return None


def _decode(item: VideoItem) -> np.ndarray:
    if item.is_frame_dir:
        from model.video.decode import read_frames

        return read_frames(item, item.num_frames)
    return decode_video(item.path)


class _Clips(Dataset):
    def __init__(self, clips: "DecodedClips", epoch: int):
        self.clips, self.epoch = clips, epoch

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, video: int) -> torch.Tensor:
        return self.clips.clip(video, self.epoch)


class DecodedClips:
    """The readable videos of a list file, decoded on demand into CLIP-preprocessed clips."""

    def __init__(self, bundle: Bundle, list_file: str, videos: str | None, frames: int,
                 image_size: int, mean, std, seed: int, workers: int,
                 augmentation: Augmentation | None):
        items = read_list(list_file, videos, num_classes=len(bundle.classes))
        self.frames, self.seed, self.workers = frames, seed, workers
        self.image_size, self.mean, self.std = image_size, mean, std
        self.augmentation = augmentation
        self.root = Path(list_file).parent
        # One decoding pass up front: batches must have a fixed size on every rank, so an
        # unreadable video is dropped before training (and reported), never mid-epoch.
        errors = list(DataLoader(_Probe(items), batch_size=None, num_workers=workers))
        self.items = [it for it, e in zip(items, errors, strict=True) if e is None]
        self.failed = [{"path": it.path, "label": it.label, "error": e}
                       for it, e in zip(items, errors, strict=True) if e is not None]
        self.paths = [it.path for it in self.items]
        self.labels = np.array([it.label for it in self.items], dtype=np.int64)
        self.label_sets = [it.label_set for it in self.items]

    def __len__(self) -> int:
        return len(self.items)

    def clip(self, video: int, epoch: int) -> torch.Tensor:
        """(L, 3, H, W): TSN offsets and the augmentation drawn from the video's generator
        (the centre crop without augmentation)."""
        rng = np.random.default_rng([self.seed, epoch, video, 2])
        raw = _decode(self.items[video])
        frames = raw[segment_indices(len(raw), self.frames, train_offsets(self.frames, rng))]
        if self.augmentation is None:
            return clip_preprocess(frames, self.image_size, self.mean, self.std)[0]
        return augment_clip(frames, self.augmentation, self.image_size, self.mean, self.std,
                            rng)

    def batches(self, groups: list[np.ndarray], epoch: int) -> Iterator[torch.Tensor]:
        """(B, L, 3, H, W) for each group of video indices, decoded by worker processes
        ahead of the training step."""
        loader = DataLoader(_Clips(self, epoch), batch_sampler=[g.tolist() for g in groups],
                            num_workers=self.workers,
                            prefetch_factor=2 if self.workers else None)
        yield from loader
