"""List files (MMAction2 style) and folder-per-class layouts."""

import pytest

from model.errors import LearnerError
from model.video.lists import read_class_folders, read_list, write_list


def test_video_and_frame_folder_lines(tmp_path):
    (tmp_path / "train.txt").write_text(
        "# comment\n\nbrush_hair/a.avi 0\n/abs/b.mp4 3\nframes/c 120 2\n")
    items = read_list(tmp_path / "train.txt", tmp_path / "videos", num_classes=4)
    assert [(i.path, i.label, i.num_frames) for i in items] == [
        (str(tmp_path / "videos/brush_hair/a.avi"), 0, None),
        ("/abs/b.mp4", 3, None),
        (str(tmp_path / "videos/frames/c"), 2, 120),
    ]
    assert items[2].is_frame_dir and not items[0].is_frame_dir


@pytest.mark.parametrize(("line", "message"), [
    ("a.avi", "expected `path label` or `dir num_frames label`"),
    ("a.avi x", "label 'x' is not an integer"),
    ("a.avi -1", "label -1 is negative"),
    ("dir 0 1", "num_frames is 0"),
    ("a.avi 7", "label 7 out of range for 4 classes"),
    ("a b c d", "got 4 fields"),
    ("a.avi 1,1", "label repeated in '1,1'"),
    ("a.avi 1,", "label '' is not an integer"),
    ("a.avi 1,9", "label 9 out of range for 4 classes"),
    ("dir 5 2,-1", "label -1 is negative"),
])
def test_bad_line_is_an_error_naming_file_and_line(tmp_path, line, message):
    path = tmp_path / "list.txt"
    path.write_text(f"good.avi 1\n{line}\n")
    with pytest.raises(LearnerError) as err:
        read_list(path, num_classes=4)
    assert f"{path}:2" in str(err.value)
    assert message in str(err.value)


def test_empty_list_is_an_error(tmp_path):
    (tmp_path / "l.txt").write_text("# nothing\n")
    with pytest.raises(LearnerError, match="no videos listed"):
        read_list(tmp_path / "l.txt")


def test_class_folders_label_by_class_order(tmp_path):
    for name in ("b", "a"):
        (tmp_path / name).mkdir()
        (tmp_path / name / f"{name}1.mp4").write_bytes(b"")
        (tmp_path / name / "notes.txt").write_text("ignored")
    items = read_class_folders(tmp_path, ["b", "a"])
    assert [(i.path.split("/")[-1], i.label) for i in items] == [("a1.mp4", 1), ("b1.mp4", 0)]
    (tmp_path / "stray").mkdir()
    with pytest.raises(LearnerError, match="stray: folder name is not a class"):
        read_class_folders(tmp_path, ["b", "a"])


def test_multi_label_lines_keep_every_label_and_round_trip(tmp_path):
    (tmp_path / "l.txt").write_text("a.mp4 3,0\nb.mp4 2\nframes/c 40 1,2,3\n")
    items = read_list(tmp_path / "l.txt", num_classes=4)
    assert [(i.label, i.label_set) for i in items] == [(3, (3, 0)), (2, (2,)), (1, (1, 2, 3))]
    write_list(items, tmp_path / "again.txt", tmp_path)
    assert (tmp_path / "again.txt").read_text() == (tmp_path / "l.txt").read_text()
