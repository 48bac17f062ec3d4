"""Class lists: the built-in datasets and a user's own file, good and bad."""

import pytest

from corpus.classes import label_from_name, load_class_list
from corpus.errors import ClassListError

EXPECTED = {"hmdb51": 51, "ucf101": 101, "kinetics400": 400, "kinetics600": 600,
            "ssv2": 174, "charades": 157}


@pytest.mark.parametrize(("dataset", "n"), EXPECTED.items())
def test_builtin_lists_have_their_official_sizes(dataset, n):
    classes = load_class_list(dataset)
    assert len(classes.classes) == n
    assert [c.class_id for c in classes.classes] == list(range(n))


def test_standard_orders_and_spellings():
    k400 = load_class_list("kinetics400").classes
    assert k400[14].name == "barbequing"
    hmdb = [c.name for c in load_class_list("hmdb51").classes]
    assert hmdb == sorted(hmdb)  # not the widely copied file that swaps 20/21 and 44/45
    assert (hmdb[20], hmdb[21], hmdb[44], hmdb[45]) == ("kick", "kick_ball", "sword",
                                                        "sword_exercise")
    assert load_class_list("ucf101").classes[0].name == "ApplyEyeMakeup"


def test_labels_are_plain_english():
    assert label_from_name("ApplyEyeMakeup") == "apply eye makeup"
    assert label_from_name("brush_hair") == "brush hair"
    assert load_class_list("ucf101").classes[0].label == "apply eye makeup"


def test_user_csv_with_crlf_bom_and_quotes(tmp_path):
    f = tmp_path / "mine.csv"
    f.write_bytes('\ufeffid,name\r\n0,"jump, high"\r\n1,run\r\n'.encode())
    classes = load_class_list(str(f))
    assert classes.dataset == "mine"
    assert [c.name for c in classes.classes] == ["jump, high", "run"]


def test_one_name_per_line(tmp_path):
    f = tmp_path / "names.txt"
    f.write_text("walk the dog\nride a bike\n\n")
    assert [c.label for c in load_class_list(str(f)).classes] == ["walk the dog", "ride a bike"]


def test_headerless_label_files(tmp_path):
    """The shapes released label files come in: `id,name` without a header (CRLF, quoted
    names) and UCF-101's classInd.txt (`1 ApplyEyeMakeup`, counted from 1)."""
    csv_file = tmp_path / "hmdb_labels.csv"
    csv_file.write_bytes(b'0,brush_hair\r\n1,cartwheel\r\n2,"catch"\r\n')
    classes = load_class_list(str(csv_file)).classes
    assert [(c.class_id, c.name, c.label) for c in classes] == [
        (0, "brush_hair", "brush hair"), (1, "cartwheel", "cartwheel"), (2, "catch", "catch")]
    ind = tmp_path / "classInd.txt"
    ind.write_text("1 ApplyEyeMakeup\n2 ApplyLipstick\n3 Archery\n")
    classes = load_class_list(str(ind)).classes
    assert [(c.class_id, c.label) for c in classes] == [
        (0, "apply eye makeup"), (1, "apply lipstick"), (2, "archery")]
    gap = tmp_path / "gap.csv"
    gap.write_text("0,run\n2,walk\n")
    with pytest.raises(ClassListError, match="missing \\[1\\]"):
        load_class_list(str(gap))


def test_limit_keeps_the_first_classes():
    head = load_class_list("hmdb51").head(5)
    assert len(head.classes) == 5 and head.n_in_list == 51


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"id,name\n0,run\n1,run\n", "line 3: duplicate class 'run' (first at line 2)"),
        (b"id,name\n0,run\n1,\n", "line 3: empty class name"),
        (b"id,name\n0,run\n2,walk\n", "contiguous"),
        (b"id,name\n0,run\nx,walk\n", "line 3: id 'x' is not an integer"),
        (b"id,name\n0,run\n1,caf\xe9\n", "line 3 is not valid UTF-8"),
        (b"", "no classes"),
        (b"id,name\n0,run\n1," + b"x" * 5000 + b"\n", "line 3 is 5002 characters long"),
        (b'id,name\n0,"run\n' + (b"y" * 4000 + b"\n") * 40, "not valid CSV"),
        (b'id,name\n0,"run\n1,walk\n', "line 2: U+000A (control character) in class name"),
        (b"run\nju\x00mp\n", "line 2: U+0000 (control character) at column 3"),
        (b"run\n\x1b[31mjump\n", "line 2: U+001B (control character) at column 1"),
        (b"run\njump\xc2\x85\n", "line 2: U+0085 (control character)"),
        ("run\njump\u202egnik\n".encode(), "line 2: U+202E RIGHT-TO-LEFT OVERRIDE"),
        ("run\njump\u2066x\n".encode(), "line 2: U+2066 LEFT-TO-RIGHT ISOLATE"),
        ("run\nju\u200bmp\n".encode(), "line 2: U+200B ZERO WIDTH SPACE"),
        ("run\nju\ufeffmp\n".encode(), "line 2: U+FEFF ZERO WIDTH NO-BREAK SPACE"),
        (b"id,name\n0,Jump\n1,run\n2,jump\n",
         "line 4: class 'jump' and line 2's 'Jump' are the same name"),
        (b"apply_eye_makeup\nApplyEyeMakeup\n", "line 2: class 'ApplyEyeMakeup' and line 1's"),
        (b"walk the dog\nwalk  the-dog\n", "line 2: class 'walk  the-dog'"),
    ],
)
def test_bad_files_are_rejected_with_the_line(tmp_path, content, message):
    f = tmp_path / "bad.csv"
    f.write_bytes(content)
    with pytest.raises(ClassListError, match=None) as err:
        load_class_list(str(f))
    assert message in str(err.value) and str(f) in str(err.value)


def test_names_without_latin_letters_are_compared_by_spelling(tmp_path):
    f = tmp_path / "names.txt"
    f.write_text("跳高\n跳远\n")  # both have an empty match_key; they are two classes
    assert len(load_class_list(str(f)).classes) == 2


def test_unknown_dataset_lists_the_builtin_ones():
    with pytest.raises(ClassListError, match="hmdb51"):
        load_class_list("hmdb52")
    with pytest.raises(ClassListError, match="no such file"):
        load_class_list("/nonexistent/classes.csv")
