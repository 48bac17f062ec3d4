"""Labelled synthetic clips whose classes differ only in temporal order.

Every class has a partner that is its exact time reversal (moving left / right, up /
down, growing / shrinking, rotating clockwise / anticlockwise, appearing /
disappearing), with clip parameters drawn from the same distribution. So the SET of
frames of a clip says which pair it belongs to but nothing about the direction: any
order-blind model (mean pooling of per-frame features) is at chance within a pair,
whatever its backbone, and a model that beats 50 % within pairs has used frame order.

    python -m model.synthetic --out artifacts/synthetic \
        [--train-per-class 24 --val-per-class 8 --corrupt 4]

writes `videos/<class>/<class>_<split>_<i>.mp4` (H.264 via PyAV) and the list files
`train.txt` / `val.txt` (`path label`, relative to `--out`).
"""

import argparse
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np

from model.video.lists import VideoItem, write_list

SIZE = 64
FRAMES = 16
FPS = 8

# (name, text, index of the forward class whose frames it reverses or None); the order is
# data/classes/synthetic.csv's.
CLASSES = [
    ("moving_left", "a square moving left", 1),
    ("moving_right", "a square moving right", None),
    ("moving_up", "a square moving up", 3),
    ("moving_down", "a square moving down", None),
    ("growing", "a circle growing", None),
    ("shrinking", "a circle shrinking", 4),
    ("rotating_clockwise", "a bar rotating clockwise", None),
    ("rotating_anticlockwise", "a bar rotating anticlockwise", 6),
    ("appearing", "a square appearing", None),
    ("disappearing", "a square disappearing", 8),
]


def pair_of(class_id: int) -> int:
    """Index of the time-reversal pair a class belongs to (0..4)."""
    return class_id // 2


def twins() -> np.ndarray:
    """twin[c]: the class whose clips are class c's clips played backwards."""
    twin = np.arange(len(CLASSES))
    for c, (_, _, reverses) in enumerate(CLASSES):
        if reverses is not None:
            twin[c], twin[reverses] = reverses, c
    return twin


def order_accuracy(scores: np.ndarray, labels: np.ndarray) -> float:
    """Within-pair order accuracy: the share of videos whose true class scores above its
    time-reversed twin. An order-blind model sees the same frames either way and sits at
    chance (0.5); top-1 would also reward telling the pairs apart, which needs no order."""
    rows = np.arange(len(labels))
    return float(np.mean(scores[rows, labels] > scores[rows, twins()[labels]]))


def _canvas(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    background = rng.uniform(0, 90, 3)
    colour = rng.uniform(150, 255, 3)
    ys, xs = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    return background, colour, ys, xs


def _render(masks: np.ndarray, alpha: np.ndarray, background, colour) -> np.ndarray:
    a = (masks * alpha[:, None, None])[..., None]
    frames = background * (1 - a) + colour * a
    return frames.clip(0, 255).astype(np.uint8)


def _translation(axis: int) -> Callable[[np.random.Generator], np.ndarray]:
    def make(rng: np.random.Generator) -> np.ndarray:
        background, colour, ys, xs = _canvas(rng)
        side = rng.integers(10, 17)
        travel = rng.integers(24, 41)
        start = rng.integers(0, SIZE - side - travel + 1)
        other = rng.integers(0, SIZE - side + 1)
        pos = start + travel * np.linspace(0, 1, FRAMES)
        along, across = (xs, ys) if axis == 1 else (ys, xs)
        masks = np.stack([(along >= p) & (along < p + side) & (across >= other)
                          & (across < other + side) for p in pos]).astype(np.float32)
        return _render(masks, np.ones(FRAMES), background, colour)
    return make


def _growing(rng: np.random.Generator) -> np.ndarray:
    background, colour, ys, xs = _canvas(rng)
    cy, cx = rng.uniform(24, 40, 2)
    radius = np.linspace(rng.uniform(3, 6), rng.uniform(18, 26), FRAMES)
    dist = np.hypot(ys - cy, xs - cx)
    masks = np.stack([dist <= r for r in radius]).astype(np.float32)
    return _render(masks, np.ones(FRAMES), background, colour)


def _rotating_clockwise(rng: np.random.Generator) -> np.ndarray:
    # A bar from the centre with a blob at its tip, so the turn direction is visible;
    # angles grow with y pointing down, which is clockwise on screen.
    background, colour, ys, xs = _canvas(rng)
    cy, cx = rng.uniform(28, 36, 2)
    start = rng.uniform(0, 2 * np.pi)
    angles = start + np.linspace(0, rng.uniform(np.pi / 2, np.pi), FRAMES)
    masks = []
    for th in angles:
        dy, dx = np.sin(th), np.cos(th)
        t = (ys - cy) * dy + (xs - cx) * dx
        perp = np.abs((ys - cy) * dx - (xs - cx) * dy)
        bar = (t >= 0) & (t <= 22) & (perp <= 2.5)
        tip = np.hypot(ys - (cy + 22 * dy), xs - (cx + 22 * dx)) <= 5
        masks.append(bar | tip)
    return _render(np.stack(masks).astype(np.float32), np.ones(FRAMES), background, colour)


def _appearing(rng: np.random.Generator) -> np.ndarray:
    background, colour, ys, xs = _canvas(rng)
    side = rng.integers(14, 25)
    top, left = rng.integers(0, SIZE - side + 1, 2)
    mask = ((ys >= top) & (ys < top + side) & (xs >= left) & (xs < left + side))
    masks = np.repeat(mask[None].astype(np.float32), FRAMES, 0)
    return _render(masks, np.linspace(0, 1, FRAMES), background, colour)


FORWARD: dict[int, Callable[[np.random.Generator], np.ndarray]] = {
    1: _translation(axis=1),
    3: _translation(axis=0),
    4: _growing,
    6: _rotating_clockwise,
    8: _appearing,
}


def clip_frames(class_id: int, rng: np.random.Generator) -> np.ndarray:
    """uint8 (FRAMES, SIZE, SIZE, 3) for one clip of `class_id`."""
    reverses = CLASSES[class_id][2]
    if reverses is None:
        return FORWARD[class_id](rng)
    return FORWARD[reverses](rng)[::-1].copy()


def write_video(frames: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "10", "preset": "veryfast"}
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


CORRUPTIONS = ("truncated", "garbage", "empty", "missing")


def _write_corrupt(kind: str, path: Path, good: Path, rng: np.random.Generator) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "truncated":
        data = good.read_bytes()
        path.write_bytes(data[: len(data) // 3])
    elif kind == "garbage":
        path.write_bytes(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    elif kind == "empty":
        path.write_bytes(b"")
    # "missing": listed, never written


def generate(out: str | Path, train_per_class: int = 24, val_per_class: int = 8,
             corrupt: int = 0, seed: int = 0) -> dict[str, Path]:
    """Write the clips and list files; returns {"train": path, "val": path}."""
    out = Path(out)
    videos = out / "videos"
    lists = {}
    for split_no, (split, count) in enumerate([("train", train_per_class),
                                               ("val", val_per_class)]):
        items = []
        for class_id, (name, _, _) in enumerate(CLASSES):
            for i in range(count):
                rng = np.random.default_rng([seed, split_no, class_id, i])
                path = videos / name / f"{name}_{split}_{i:03d}.mp4"
                write_video(clip_frames(class_id, rng), path)
                items.append(VideoItem(str(path), class_id))
        if split == "train":
            rng = np.random.default_rng([seed, 99])
            for k in range(corrupt):
                kind = CORRUPTIONS[k % len(CORRUPTIONS)]
                label = int(rng.integers(len(CLASSES)))
                path = videos / "corrupt" / f"{kind}_{k:03d}.mp4"
                _write_corrupt(kind, path, Path(items[0].path), rng)
                items.append(VideoItem(str(path), label))
        lists[split] = out / f"{split}.txt"
        write_list(items, lists[split], out)
    return lists


def generate_multilabel(out: str | Path, train_clips: int = 60, val_clips: int = 30,
                        seed: int = 0) -> dict[str, Path]:
    """A multi-label variant (Charades-like): each clip shows one or two actions of
    distinct classes one after the other (16 or 32 frames), listed as `path a,b`.
    Returns {"train": list file, "val": list file}."""
    out = Path(out)
    lists = {}
    for split_no, (split, count) in enumerate([("train", train_clips), ("val", val_clips)]):
        items = []
        for i in range(count):
            rng = np.random.default_rng([seed, 7, split_no, i])
            actions = [int(c) for c in rng.choice(len(CLASSES), int(rng.integers(1, 3)),
                                                  replace=False)]
            frames = np.concatenate([clip_frames(c, rng) for c in actions])
            path = out / "videos" / f"{split}_{i:04d}.mp4"
            write_video(frames, path)
            items.append(VideoItem(str(path), actions[0], None,
                                   tuple(actions) if len(actions) > 1 else ()))
        lists[split] = out / f"{split}.txt"
        write_list(items, lists[split], out)
    return lists


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--train-per-class", type=int, default=24)
    parser.add_argument("--val-per-class", type=int, default=8)
    parser.add_argument("--corrupt", type=int, default=4,
                        help="unreadable files added to train.txt (truncated, garbage, empty, "
                             "missing) to exercise skipping")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--multilabel", action="store_true",
                        help="clips of one or two actions, listed `path a,b` (clip counts: "
                             "10 × --train-per-class and 10 × --val-per-class)")
    args = parser.parse_args(argv)
    if args.multilabel:
        lists = generate_multilabel(args.out, len(CLASSES) * args.train_per_class,
                                    len(CLASSES) * args.val_per_class, args.seed)
    else:
        lists = generate(args.out, args.train_per_class, args.val_per_class, args.corrupt,
                         args.seed)
    for split, path in lists.items():
        print(f"{split}: {path}")


if __name__ == "__main__":
    main()
