"""MMAction2-style list files and the folder-per-class layout.

    path label              a video file, e.g. `brush_hair/clip_0.avi 0`
    dir num_frames label    a folder of extracted frames img_00001.jpg … (1-based)

Paths are relative to a root (the `--videos` folder) unless absolute. Blank lines and
lines starting with `#` are ignored; anything else malformed is an error naming the
file and line, because a silently dropped line silently changes a benchmark.
"""

from dataclasses import dataclass
from pathlib import Path

from model.errors import LearnerError

VIDEO_SUFFIXES = {".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v"}


@dataclass(frozen=True)
class VideoItem:
    path: str  # as resolved against the root
    label: int
    num_frames: int | None = None  # set for frame folders, None for video files

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
            path, label, frames = fields[0], _int(fields[1], "label", where), None
        elif len(fields) == 3:
            path = fields[0]
            frames = _int(fields[1], "num_frames", where)
            label = _int(fields[2], "label", where)
            if frames == 0:
                raise LearnerError(f"{where}: num_frames is 0")
        else:
            raise LearnerError(f"{where}: expected `path label` or `dir num_frames label`, "
                               f"got {len(fields)} fields: {line!r}")
        if num_classes is not None and label >= num_classes:
            raise LearnerError(f"{where}: label {label} out of range for {num_classes} classes")
        resolved = Path(path) if Path(path).is_absolute() else root / path
        items.append(VideoItem(str(resolved), label, frames))
    if not items:
        raise LearnerError(f"{list_file}: no videos listed")
    return items


def read_class_folders(root: str | Path, class_names: list[str]) -> list[VideoItem]:
    """`root/<class name>/*.<video>`: the label is the class's index in `class_names`."""
    root = Path(root)
    index = {name: i for i, name in enumerate(class_names)}
    items = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        if folder.name not in index:
            raise LearnerError(f"{folder}: folder name is not a class of the bundle")
        items += [VideoItem(str(f), index[folder.name]) for f in sorted(folder.iterdir())
                  if f.suffix.lower() in VIDEO_SUFFIXES]
    if not items:
        raise LearnerError(f"{root}: no class folders with videos")
    return items


def write_list(items: list[VideoItem], list_file: str | Path, root: str | Path) -> None:
    root = Path(root)
    lines = []
    for it in items:
        rel = Path(it.path).relative_to(root) if Path(it.path).is_relative_to(root) else it.path
        lines.append(f"{rel} {it.num_frames} {it.label}" if it.is_frame_dir
                     else f"{rel} {it.label}")
    Path(list_file).write_text("\n".join(lines) + "\n")
