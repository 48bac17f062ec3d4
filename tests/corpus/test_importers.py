"""Importing other projects' text knowledge: each format, the mapping report, bad files.

Sample files in tests/data/imports/ are small hand-written files in each format.
"""

import json
from pathlib import Path

import pytest

from corpus.classes import load_class_list
from corpus.errors import SubtextError
from corpus.formats import ImportSource, import_sources, match_key
from tests.conftest import REPO_ROOT

DATA = REPO_ROOT / "tests" / "data" / "imports"
HMDB = load_class_list("hmdb51")
UCF = load_class_list("ucf101")


def by_name(class_list, name):
    return next(c for c in class_list.classes if c.name == name)


def test_names_match_across_case_spaces_and_underscores():
    assert match_key("Apply Eye Makeup") == match_key("ApplyEyeMakeup") \
        == match_key("apply_eye_makeup") == "applyeyemakeup"


def test_cupl_maps_names_chunks_in_file_order_and_reports():
    sources, report = import_sources("cupl", DATA / "cupl_ucf101.json", UCF.head(4))
    assert [s.id for s in sources] == ["import:cupl/cupl_ucf101/0", "import:cupl/cupl_ucf101/1"]
    eye = by_name(UCF, "ApplyEyeMakeup")
    first, second = (s.candidate(eye) for s in sources)
    assert first.subtexts[0] == "a brush sweeps colour across a closed eyelid"
    assert second.subtexts[0] == "mascara wand combs through the upper lashes"
    assert first.source_kind == "import" and first.model is None and first.prompt_id is None
    assert sources[0].candidate(by_name(UCF, "ApplyLipstick")).subtexts[3] == \
        "a tissue blots the excess from the lips"
    assert report.unmatched == ["Moon Walking"]
    assert report.missing == ["BabyCrawling"]
    assert report.too_few == {"Archery": 2}
    assert report.dropped == {"ApplyEyeMakeup": 1}  # 9 descriptions: two sets, one left over
    text = report.render()
    assert "2 of 4 classes have at least one set of 4 sub-texts (3 set(s))" in text
    assert "unmatched: in the file, not in the class list (1): Moon Walking" in text
    assert "missing: in the class list, not in the file (1): BabyCrawling" in text


def test_a_class_without_its_kth_set_raises_a_clear_error():
    sources, _ = import_sources("cupl", DATA / "cupl_ucf101.json", UCF.head(4))
    with pytest.raises(SubtextError, match=r"has no set 1 for class 'ApplyLipstick' \(1 set"):
        sources[1].candidate(by_name(UCF, "ApplyLipstick"))
    with pytest.raises(SubtextError, match=r"no set 0 for class 'Archery'"):
        sources[0].candidate(by_name(UCF, "Archery"))


def test_describe_records_where_the_text_came_from():
    sources, _ = import_sources("cupl", DATA / "cupl_ucf101.json", UCF, priority=1)
    info = sources[1].describe()
    assert info["kind"] == "import" and info["format"] == "cupl"
    assert info["file"] == "cupl_ucf101.json" and len(info["file_sha256"]) == 64
    assert info["provenance"].startswith("imported from cupl_ucf101.json")
    assert info["set_index"] == 1 and info["classes_with_set"] == 1 and info["priority"] == 1
    assert isinstance(sources[0], ImportSource)
    assert (sources[0].kind, sources[0].attempts, sources[0].priority) == ("import", 1, 1)


def test_ost_spatio_and_temporal_files_map_by_index_with_distinct_ids():
    spatio, report = import_sources(
        "ost", DATA / "ost" / "spatio_descriptors" / "4_descriptors.json", HMDB)
    temporal, _ = import_sources(
        "ost", DATA / "ost" / "temporal_descriptors" / "4_descriptors.json", HMDB)
    assert [s.id for s in spatio] == ["import:ost/spatio-4_descriptors/0"]
    assert [s.id for s in temporal] == ["import:ost/temporal-4_descriptors/0"]
    assert spatio[0].candidate(by_name(HMDB, "catch")).subtexts[0] == "a ball in mid air"
    # OST's "Step 1: ..." numbering is list markup, not content.
    assert temporal[0].candidate(by_name(HMDB, "brush_hair")).subtexts[0] == "pick up the brush"
    assert report.unmatched == ["99"]
    assert len(report.missing) == 51 - 3 and report.missing[0] == "chew"
    assert spatio[0].describe()["file"] == "spatio_descriptors/4_descriptors.json"


def test_froster_one_sentence_per_class_gives_no_set_of_four_and_says_so():
    sources, report = import_sources("froster", DATA / "froster_hmdb51.json", HMDB.head(5))
    assert sources == []
    assert report.too_few == {"brush_hair": 1, "cartwheel": 1, "catch": 1, "chew": 1}
    assert report.missing == ["clap"]
    assert any("names 'Throw' but index 2 is class 'catch'" in n for n in report.notes)
    assert any("one sentence per class (FROSTER)" in n for n in report.notes)


def test_froster_sentences_lose_their_class_prefix():
    sources, report = import_sources("froster", DATA / "froster_hmdb51.json", HMDB.head(5), n=1)
    assert len(sources) == 1 and report.classes_with_sets == 4
    assert sources[0].candidate(by_name(HMDB, "cartwheel")).subtexts == (
        "A person turns sideways over their hands with legs spread in the air",)
    several, _ = import_sources("froster", DATA / "froster_multi_hmdb51.json", HMDB)
    assert several[0].candidate(by_name(HMDB, "brush_hair")).subtexts[1] == \
        "Bristles glide from the scalp down to the ends"


def test_csv_set_column_groups_candidate_sets():
    sources, report = import_sources("csv", DATA / "hmdb51_sets.csv", HMDB.head(5))
    assert [s.id for s in sources] == ["import:csv/hmdb51_sets/0", "import:csv/hmdb51_sets/1"]
    brush = by_name(HMDB, "brush_hair")
    assert sources[0].candidate(brush).subtexts[0] == "pick up a brush from the shelf"
    assert sources[1].candidate(brush).subtexts[2] == \
        "long hair falling over one shoulder, untangled"
    # "Cart Wheel" and "cartwheel" rows are one class.
    assert sources[0].candidate(by_name(HMDB, "cartwheel")).subtexts[3] == \
        "land facing the start with arms up"
    assert report.unmatched == ["somersaulting"]
    assert report.too_few == {"catch": 3}
    assert report.missing == ["chew", "clap"]


def test_csv_without_set_column_chunks_consecutive_rows():
    sources, report = import_sources("csv", DATA / "hmdb51_plain.csv", HMDB, n=2)
    chew = by_name(HMDB, "chew")
    assert [s.candidate(chew).subtexts for s in sources] == [
        ("the jaw moves up and down in a steady rhythm", "food is pushed between the back teeth"),
        ("lips stay closed while the cheeks bulge", "a slow swallow after several bites"),
    ]
    assert report.dropped == {"chew": 1}


@pytest.mark.parametrize(("format", "content", "message"), [
    ("cupl", b"{not json", r"not valid JSON \(line 1, column 2"),
    ("cupl", b'["a", "b"]', r"expected a JSON object at the top level, got list"),
    ("cupl", b"{}", r"the JSON object is empty"),
    ("cupl", b'{"brush hair": "one string"}', r"entry 'brush hair': expected a list"),
    ("cupl", b'{"brush hair": ["ok", 3]}',
     r"entry 'brush hair' item 1: expected a string, got int"),
    ("cupl", b'{"brush hair": ["ok", "  "]}', r"entry 'brush hair' item 1: empty description"),
    ("cupl", b'{"brush hair": ["a"], "Brush Hair": ["b"]}',
     r"'brush hair' and 'Brush Hair' both name class 'brush_hair'"),
    ("cupl", b'{"chew": ["a"], "chew": ["b"]}', r"key 'chew' appears more than once"),
    ("ost", b'{"brush_hair": ["a"]}', r"key 'brush_hair' is not a class index"),
    ("ost", b'{"0": [["nested"]]}', r"entry '0' item 0: expected a string, got list"),
    ("froster", b'{"0": 7}', r"entry '0': expected a string, got int"),
    ("froster", b'{"0": "Brush hair:   "}', r"entry '0': empty description after 'Brush hair'"),
    ("csv", b"name,description\nchew,x\n", r"line 1: expected a header with columns `class`"),
    ("csv", b"class,text\nchew,\n", r"line 2: empty description"),
    ("csv", b"class,text\n,some text\n", r"line 2: empty class"),
    ("csv", b"class,text\nchew,caf\xe9\n", r"line 2 is not valid UTF-8"),
    ("csv", b"", r"the file is empty"),
    ("cupl", b'{"chew": ["\xff"]}', r"line 1 is not valid UTF-8"),
])
def test_bad_files_get_one_clear_error_naming_file_and_problem(tmp_path, format, content,
                                                               message):
    path = tmp_path / f"bad.{'csv' if format == 'csv' else 'json'}"
    path.write_bytes(content)
    with pytest.raises(SubtextError, match=rf"import file .*{path.name}: {message}"):
        import_sources(format, path, HMDB)


def test_unknown_format_and_missing_file(tmp_path):
    with pytest.raises(SubtextError, match=r"unknown import format 'yaml'; choose one of .*cupl"):
        import_sources("yaml", DATA / "cupl_ucf101.json", UCF)
    with pytest.raises(SubtextError, match=r"import file .*nope.json: no such file"):
        import_sources("cupl", tmp_path / "nope.json", UCF)


def test_a_utf8_bom_and_crlf_are_accepted(tmp_path):
    path = tmp_path / "windows.csv"
    path.write_bytes("\ufeffclass,text\r\nchew,a\r\nchew,b\r\n".encode())
    sources, _ = import_sources("csv", path, HMDB, n=2)
    assert sources[0].candidate(by_name(HMDB, "chew")).subtexts == ("a", "b")
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"chew": ["a", "b"]}).encode())
    assert len(import_sources("cupl", path, HMDB, n=2)[0]) == 1


def test_the_report_is_plain_data_for_a_manifest_or_json_output():
    _, report = import_sources("cupl", DATA / "cupl_ucf101.json", UCF.head(4))
    data = json.loads(json.dumps(report.as_dict()))
    assert data["classes_with_sets"] == 2 and data["unmatched"] == ["Moon Walking"]
    assert isinstance(Path(DATA / data["file"]), Path)
