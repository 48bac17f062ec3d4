"""MMAction2-style list files and the folder-per-class layout.

    python -m model.video.lists ROOT --bundle B --out list.txt   # folders -> list file

    path label              a video file, e.g. `brush_hair/clip_0.avi 0`
    dir num_frames label    a folder of extracted frames img_00001.jpg … (1-based)
    path l1,l2,…            multi-label (Charades): every class in the video, comma-
                            separated without spaces (also `dir num_frames l1,l2,…`)

Paths are relative to a root (the `--videos` folder) unless absolute. Blank lines and
lines starting with `#` are ignored; anything else malformed is an error naming the
file and line, because a silently dropped line silently changes a benchmark.
"""

from dataclasses import dataclass
from pathlib import Path

from model.errors import LearnerError

VIDEO_SUFFIXES = {".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v"}
FRAME_GLOB = "img_[0-9][0-9][0-9][0-9][0-9].jpg"  # decode.FRAME_TEMPLATE's files


@dataclass(frozen=True)
class VideoItem:
    path: str  # as resolved against the root
    label: int  # the first listed label: the class for single-label lists
    num_frames: int | None = None  # set for frame folders, None for video files
    labels: tuple[int, ...] = ()  # every label of a multi-label line; () for one label

    @property
    def label_set(self) -> tuple[int, ...]:
        return self.labels or (self.label,)

    @property
    def is_frame_dir(self) -> bool:
        return self.num_frames is not None


def _int(text: str, what: str, where: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise LearnerError(f"{where}: {what} {text!r} is not an integer") from None
    if value < 0:
        raise LearnerError(f"{where}: {what} {value} is negative")
    return value


def _labels(text: str, where: str, num_classes: int | None) -> tuple[int, ...]:
    labels = tuple(_int(t, "label", where) for t in text.split(","))
    if len(set(labels)) != len(labels):
        raise LearnerError(f"{where}: label repeated in {text!r}")
    for label in labels:
        if num_classes is not None and label >= num_classes:
            raise LearnerError(f"{where}: label {label} out of range for {num_classes} classes")
    return labels


def read_list(list_file: str | Path, root: str | Path | None = None,
              num_classes: int | None = None) -> list[VideoItem]:
    list_file = Path(list_file)
    root = Path(root) if root is not None else list_file.parent
    items = []
    for number, raw in enumerate(list_file.read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{list_file}:{number}"
        fields = line.split()
        if len(fields) == 2:
            path, labels, frames = fields[0], _labels(fields[1], where, num_classes), None
        elif len(fields) == 3:
            path = fields[0]
            frames = _int(fields[1], "num_frames", where)
            labels = _labels(fields[2], where, num_classes)
            if frames == 0:
                raise LearnerError(f"{where}: num_frames is 0")
        else:
            raise LearnerError(f"{where}: expected `path label` or `dir num_frames label`, "
                               f"got {len(fields)} fields: {line!r}")
        resolved = Path(path) if Path(path).is_absolute() else root / path
        items.append(VideoItem(str(resolved), labels[0], frames,
                               labels if len(labels) > 1 else ()))
    if not items:
        raise LearnerError(f"{list_file}: no videos listed")
    return items


def _class_folder_item(entry: Path, label: int) -> VideoItem | None:
    if entry.is_file() and entry.suffix.lower() in VIDEO_SUFFIXES:
        return VideoItem(str(entry), label)
    if entry.is_dir():  # a folder of extracted frames img_00001.jpg …
        frames = len(list(entry.glob(FRAME_GLOB)))
        return VideoItem(str(entry), label, frames) if frames else None
    return None


def read_class_folders(root: str | Path, class_names: list[str]) -> list[VideoItem]:
    """`root/<class name>/*.<video>` or `root/<class name>/<clip>/img_00001.jpg …`: the
    label is the class's index in `class_names`."""
    root = Path(root)
    index = {name: i for i, name in enumerate(class_names)}
    items = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        if folder.name not in index:
            raise LearnerError(f"{folder}: folder name is not a class of the bundle")
        found = (_class_folder_item(e, index[folder.name]) for e in sorted(folder.iterdir()))
        items += [item for item in found if item is not None]
    if not items:
        raise LearnerError(f"{root}: no class folders with videos")
    return items


def write_list(items: list[VideoItem], list_file: str | Path, root: str | Path) -> None:
    root = Path(root)
    lines = []
    for it in items:
        rel = Path(it.path).relative_to(root) if Path(it.path).is_relative_to(root) else it.path
        label = ",".join(map(str, it.label_set))
        lines.append(f"{rel} {it.num_frames} {label}" if it.is_frame_dir else f"{rel} {label}")
    Path(list_file).write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> None:
    import argparse

    from model.bundle import load_bundle

    parser = argparse.ArgumentParser(
        description="Write a list file from a folder-per-class layout (root/<class>/…), "
                    "labelled in the bundle's class order, for model.features.extract.")
    parser.add_argument("root")
    parser.add_argument("--bundle", required=True)
    parser.add_argument("--out", required=True, help="list file; paths are written "
                                                     "relative to its folder when inside it")
    args = parser.parse_args(argv)
    try:
        items = read_class_folders(Path(args.root).resolve(),
                                   load_bundle(args.bundle).class_names)
    except LearnerError as err:
        raise SystemExit(f"error: {err}") from None
    write_list(items, args.out, Path(args.out).resolve().parent)
    print(f"{len(items)} videos -> {args.out}")


if __name__ == "__main__":
    main()
