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
    ],
)
def test_bad_files_are_rejected_with_the_line(tmp_path, content, message):
    f = tmp_path / "bad.csv"
    f.write_bytes(content)
    with pytest.raises(ClassListError, match=None) as err:
        load_class_list(str(f))
    assert message in str(err.value) and str(f) in str(err.value)


def test_unknown_dataset_lists_the_builtin_ones():
    with pytest.raises(ClassListError, match="hmdb51"):
        load_class_list("hmdb52")
    with pytest.raises(ClassListError, match="no such file"):
        load_class_list("/nonexistent/classes.csv")
