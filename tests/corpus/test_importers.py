"""Importing other projects' text knowledge: each format, the mapping report, bad files.

Sample files in tests/data/imports/ are small hand-written files in the shape of each
real release (docs/sharing.md says which release each shape comes from).
"""

import json
from pathlib import Path

import pytest
import yaml

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
    assert "(cupl, given): 2 of 4 classes have at least one set of 4 sub-texts (3 set(s))" in text
    assert "mapped by name" in text
    assert "unmatched: in the file, not in the class list (1): Moon Walking" in text
    assert "missing: in the class list, not in the file (1): BabyCrawling" in text


def test_a_class_without_its_kth_set_raises_a_clear_error():
    sources, _ = import_sources("cupl", DATA / "cupl_ucf101.json", UCF.head(4))
    with pytest.raises(SubtextError, match=r"has no set 1 for class 'ApplyLipstick' \(1 set"):
        sources[1].candidate(by_name(UCF, "ApplyLipstick"))
    # Two descriptions: one short set, marked as such; a full set is marked full.
    archery = sources[0].candidate(by_name(UCF, "Archery"))
    assert archery.subtexts == (
        "an archer draws the bowstring back to the cheek", "an arrow flies toward a round target")
    assert archery.set_kind == "short" and sources[0].imported.short == {"Archery"}
    assert sources[0].candidate(by_name(UCF, "ApplyLipstick")).set_kind == "full"
    with pytest.raises(SubtextError, match=r"no set 1 for class 'Archery'"):
        sources[1].candidate(by_name(UCF, "Archery"))


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
        "ost", DATA / "ost" / "spatio_descriptors" / "4_descriptors.json", HMDB, mapping="index")
    temporal, _ = import_sources(
        "ost", DATA / "ost" / "temporal_descriptors" / "4_descriptors.json", HMDB,
        mapping="index")
    assert [s.id for s in spatio] == ["import:ost/spatio-4_descriptors/0"]
    assert [s.id for s in temporal] == ["import:ost/temporal-4_descriptors/0"]
    assert spatio[0].candidate(by_name(HMDB, "catch")).subtexts[0] == "a ball in mid air"
    # OST's "Step 1: ..." numbering is list markup, not content.
    assert temporal[0].candidate(by_name(HMDB, "brush_hair")).subtexts[0] == "pick up the brush"
    assert report.unmatched == ["99"]
    assert len(report.missing) == 51 - 3 and report.missing[0] == "chew"
    assert spatio[0].describe()["file"] == "spatio_descriptors/4_descriptors.json"
    assert report.mapped_by == "index"


def test_an_index_only_file_of_another_size_than_the_list_needs_by_index():
    with pytest.raises(SubtextError, match=r"4_descriptors.json: keyed by class index only, "
                       r"with 4 entries for the 51 classes of hmdb51.*--by-index"):
        import_sources("ost", DATA / "ost" / "spatio_descriptors" / "4_descriptors.json", HMDB)


def test_froster_one_sentence_per_class_becomes_a_marked_class_text_augmentation():
    sources, report = import_sources("froster", DATA / "froster_hmdb51.json", HMDB.head(5))
    assert len(sources) == 1 and report.classes_with_sets == 0
    assert report.too_few == {"brush_hair": 1, "cartwheel": 1, "catch": 1, "chew": 1}
    assert report.class_text_augmentations == ["brush_hair", "cartwheel", "catch", "chew"]
    assert report.short_sets == {}
    assert sources[0].imported.short == {"brush_hair", "cartwheel", "catch", "chew"}
    catch = sources[0].candidate(by_name(HMDB, "catch"))
    assert catch.subtexts == ("A person gets ready to grab an object flying toward them",)
    assert catch.set_kind == "class_text"
    assert report.missing == ["clap"] and report.mapped_by == "name"
    assert any("keeps it as a class-text augmentation" in n for n in report.notes)
    assert ("one sentence, kept as a class-text augmentation (4): brush_hair, cartwheel"
            in report.render())


def test_froster_sentences_lose_their_class_prefix():
    sources, report = import_sources("froster", DATA / "froster_hmdb51.json", HMDB.head(5), n=1)
    assert len(sources) == 1 and report.classes_with_sets == 4 and not report.too_few
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
    ("cupl", b"", r"the file is empty"),
    ("cupl", b"  \n", r"the file is empty"),
    ("cupl", b'{"brush hair": "one string"}', r"entry 'brush hair': expected a list"),
    ("cupl", b'{"brush hair": ["ok", 3]}',
     r"entry 'brush hair' item 1: expected a string, got int"),
    ("cupl", b'{"brush hair": [["nested"]]}',
     r"entry 'brush hair' item 0: expected a string, got list"),
    ("cupl", b'{"brush hair": ["a"], "Brush Hair": ["b"]}',
     r"entry 'brush hair' and entry 'Brush Hair' both give class 'brush_hair'"),
    ("cupl", b'{"chew": ["a"], "chew": ["b"]}', r"key 'chew' appears more than once"),
    ("cupl", b'{"Moon Walking": ["a", "b"]}',
     r"none of its 1 entries is a class of hmdb51 \(first: entry 'Moon Walking'"),
    ("ost", b'{"brush_hair": ["a"]}', r"key 'brush_hair' is not a class index"),
    ("ost", b'{"0": [["nested"]]}', r"entry '0' item 0: expected a string, got list"),
    ("froster", b'{"0": 7}', r"entry '0': expected a string, got int"),
    ("froster", b'{"0": [["Brush hair: a"]]}', r"entry '0' item 0: expected a string, got a "
                                             r"nested list"),
    ("froster", b'{"x": "Brush hair: a"}', r"key 'x' is not a class index"),
    ("csv", b"name,description,extra\nchew,x\n", None),
    ("csv", b"class,notes\nchew,x\n", r"line 1: a header needs a text column"),
    ("csv", b"class,text\n,some text\n", r"line 2: empty class"),
    ("csv", b"a,b,c\nd,e,f\n",
     r"line 1: no header, and rows are not `class,text` or `id,class,text`"),
    ("csv", b"class,text\nchew,caf\xe9\n", r"line 2 is not valid UTF-8"),
    ("csv", b"", r"the file is empty"),
    ("cupl", b'{"chew": ["\xff"]}', r"line 1 is not valid UTF-8"),
    ("froster-text", b"just a line without a class\n", r"line 1: expected 'N. Class: sentence'"),
])
def test_bad_files_get_one_clear_error_naming_file_and_problem(tmp_path, format, content,
                                                               message):
    path = tmp_path / f"bad.{'csv' if format == 'csv' else 'json'}"
    path.write_bytes(content)
    if message is None:  # a `name,description` header is a valid header
        assert import_sources(format, path, HMDB, n=1)[1].sets_by_class == {"chew": 1}
        return
    with pytest.raises(SubtextError, match=rf"^import file .*{path.name}: {message}") as err:
        import_sources(format, path, HMDB)
    assert "\n" not in str(err.value)


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


# -- name-first mapping and the alias table -------------------------------------------

K400 = load_class_list("kinetics400")
# The Kinetics-700 spelling of each renamed Kinetics-400 class (the K700 class names that
# key CuPL's kinetics_prompts_full.json), written out here independently of the alias table.
K700_RENAMED = {
    "balloon blowing": "inflating balloons", "changing wheel": "changing wheel (not on bike)",
    "cooking sausages": "cooking sausages (not on barbeque)", "dying hair": "dyeing hair",
    "garbage collecting": "person collecting garbage", "hugging": "hugging (not baby)",
    "making bed": "making the bed", "opening bottle": "opening bottle (not wine)",
    "throwing ball": "throwing ball (not baseball or American football)",
    "tying tie": "tying necktie",
    "passing American football (not in game)": "passing american football (not in game)",
}
NOT_IN_K700 = ["cleaning floor", "drinking", "drinking beer", "picking fruit",
               "riding mountain bike", "skiing (not slalom or crosscountry)", "sniffing",
               "strumming guitar", "swinging legs", "taking a shower", "using computer", "vault"]


def test_a_kinetics700_named_file_maps_every_kinetics400_class_kinetics700_has(tmp_path):
    data = {K700_RENAMED.get(c.name, c.name): [f"{c.label} seen {i}" for i in range(4)]
            for c in K400.classes if c.name not in NOT_IN_K700}
    data["acting in play"] = ["a K700 class that K400 does not have"] * 4
    path = tmp_path / "kinetics_prompts_full.json"
    path.write_text(json.dumps(data, indent=4))
    sources, report = import_sources(None, path, K400)
    assert report.classes_with_sets == 400 - len(NOT_IN_K700) == 388
    assert report.missing == NOT_IN_K700 and report.unmatched == ["acting in play"]
    # The text column spells it "dyeing hair" (the official name keeps the misspelling).
    assert sources[0].candidate(by_name(K400, "dying hair")).subtexts[0] == "dyeing hair seen 0"


def test_the_alias_table_names_its_source_for_every_group():
    from corpus.aliases import alias_groups, alias_index

    assert len(alias_groups()) >= 15
    index = alias_index(K400)
    assert index[match_key("tying necktie")] == "tying tie"
    # K400's own text column spells class 108 "dyeing hair", so that spelling needs no alias.
    assert match_key("dyeing hair") not in index
    assert index[match_key("Barbecuing")] == "barbequing"
    # A list that has the renamed class itself keeps its own spelling.
    assert match_key("dyeing hair") not in alias_index(load_class_list("kinetics600"))


def test_froster_rephrasings_of_kinetics400_names_map_by_name(tmp_path):
    path = tmp_path / "k400_rephrased_classes.json"
    path.write_text(json.dumps({"14": "Barbecuing: meat turns on a grill over coals",
                                "103": "Driving a car: hands on the wheel on a highway",
                                "0": "Abseiling: descending a cliff on a rope"}))
    _, report = import_sources("froster", path, K400, n=1, mapping="index")
    assert report.classes_with_sets == 3 and not report.notes
    _, report = import_sources("froster", path, K400, n=1, mapping="name")
    assert report.classes_with_sets == 3


def test_index_keyed_names_that_contradict_their_index_stop_the_import():
    path = DATA / "froster_hmdb51_base_split.json"
    with pytest.raises(SubtextError) as err:
        import_sources(None, path, HMDB)
    message = str(err.value)
    assert message.startswith(f"import file {path}: 4 of 4 named entries name a different "
                              "class than their index in hmdb51: entry '0' names 'Pour' = "
                              "'pour' but index 0 is 'brush_hair';")
    assert "a base/novel split numbers its own classes" in message
    assert "--by-name" in message and "--by-index" in message and "\n" not in message
    by_name_sources, report = import_sources(None, path, HMDB, n=1, mapping="name")
    assert by_name_sources[0].candidate(by_name(HMDB, "pour")).subtexts == (
        "A person tips a jug so that water runs into a glass",)
    assert report.mapped_by == "name"
    _, report = import_sources(None, path, HMDB, n=1, mapping="index")
    assert sorted(report.sets_by_class) == ["brush_hair", "cartwheel", "catch", "chew"]


def test_a_long_contradiction_list_shows_the_first_ten_and_the_count(tmp_path):
    names = [c.label for c in HMDB.classes]
    shifted = {str(i): f"{names[(i + 1) % 51]}: a sentence about it" for i in range(26)}
    path = tmp_path / "hmdb_51_base_llm_labels.json"
    path.write_text(json.dumps(shifted))
    with pytest.raises(SubtextError, match=r"26 of 26 named entries .*; … 16 more\.") as err:
        import_sources("froster", path, HMDB)
    assert str(err.value).count(" but index ") == 10


def test_hmdb_label_files_with_ids_20_21_44_45_swapped_are_detected():
    path = DATA / "hmdb51_swapped_ids.csv"
    with pytest.raises(SubtextError, match=r"4 of 6 named entries .*line 2 names 'kick ball' = "
                       r"'kick_ball' but index 20 is 'kick'.*swapped HMDB-51 label order"):
        import_sources(None, path, HMDB)
    _, report = import_sources(None, path, HMDB, n=1, mapping="name")
    assert report.sets_by_class["kick_ball"] == 1


def test_a_swapped_hmdb_class_list_is_reported_when_a_file_maps_by_index(tmp_path):
    rows = ["id,name"] + [f"{c.class_id},{c.name}" for c in HMDB.classes]
    rows[21], rows[22] = "20,kick_ball", "21,kick"
    rows[45], rows[46] = "44,sword_exercise", "45,sword"
    (tmp_path / "hmdb_51_labels.csv").write_text("\n".join(rows) + "\n")
    swapped = load_class_list(str(tmp_path / "hmdb_51_labels.csv"))
    _, report = import_sources("ost", DATA / "ost" / "spatio_descriptors" / "4_descriptors.json",
                               swapped, mapping="index")
    assert any("ids 20/21 and 44/45 swapped" in n for n in report.notes)


# -- cleaning, short sets and length --------------------------------------------------

def test_items_are_cleaned_before_chunking_and_each_kind_counted():
    sources, report = import_sources(None, DATA / "cupl_ucf101_quirks.json", UCF)
    assert report.cleaned == {"empty": 1, "enumerator only": 2, "not applicable": 1,
                              "duplicate": 1, "numbering removed": 1, "bullet removed": 1,
                              "quotes removed": 1}
    eye = sources[0].candidate(by_name(UCF, "ApplyEyeMakeup")).subtexts
    assert eye == ("a brush sweeps colour across a closed eyelid",
                   "a mirror held close to the face",
                   "fingers steady the skin at the corner of the eye",
                   "a small pencil traces the lash line")
    assert report.dropped == {"ApplyEyeMakeup": 1}
    assert "enumerator only: 2" in report.render()


def test_a_90_token_description_is_flagged_with_its_token_count():
    from corpus.tokens import clip_token_counts

    _, report = import_sources(None, DATA / "cupl_ucf101_quirks.json", UCF)
    [(cls, n_tokens, chars, text)] = report.long
    assert (cls, n_tokens, chars) == ("BalanceBeam", 90, len(text)) and chars > 200
    assert "over 77 CLIP tokens or 200 characters (kept; CLIP cuts any over 77 tokens) (1): " \
           "BalanceBeam: 90 tokens" in report.render()
    with pytest.raises(SubtextError, match=r"1 description\(s\) over 77 CLIP tokens .* class "
                                           r"'BalanceBeam': 90 tokens"):
        import_sources(None, DATA / "cupl_ucf101_quirks.json", UCF, on_long="reject")
    cut, _ = import_sources(None, DATA / "cupl_ucf101_quirks.json", UCF, on_long="truncate")
    beam = cut[0].candidate(by_name(UCF, "BalanceBeam"))
    first = beam.subtexts[0]
    assert text.startswith(first) and clip_token_counts([first])[0] <= 77 and len(first) <= 200
    # The cut is recorded with the length before (subtexts.parquet n_tokens_before_cut).
    assert beam.n_tokens_before_cut[0] == 90
    assert set(beam.n_tokens_before_cut[1:]) == {None}


# -- the other formats and detection ---------------------------------------------------

def test_froster_raw_text_lines_are_read():
    sources, report = import_sources(None, DATA / "froster_hmdb51_rephrased.txt", HMDB.head(5),
                                     n=1)
    assert report.format == "froster-text" and report.format_from.startswith("detected")
    cartwheel = sources[0].candidate(by_name(HMDB, "cartwheel")).subtexts
    assert cartwheel == ("A person turns sideways over their hands with legs spread in the air.",)
    # "3. chew" gives the class and no sentence: nothing is left, and the report says so.
    assert report.cleaned == {"empty": 1} and report.sets_by_class["chew"] == 0
    assert report.emptied == ["chew"]
    assert "nothing left after clean-up, no set (1): chew" in report.render()


def test_froster_text_lines_without_a_number_are_read_by_name(tmp_path):
    path = tmp_path / "rephrased.txt"  # one `Class: sentence` per line, no `N.`
    path.write_text("Chew: A person moves their jaw up and down while eating.\n"
                    "\n"
                    '"Brush Hair": A person pulls a brush through their hair.\n')
    sources, report = import_sources("froster-text", path, HMDB, n=1)
    assert report.mapped_by == "name" and report.sets_by_class == {"brush_hair": 1, "chew": 1}
    assert sources[0].candidate(by_name(HMDB, "chew")).subtexts == (
        "A person moves their jaw up and down while eating.",)


def test_a_headerless_csv_is_read_with_names_or_indices():
    sources, report = import_sources(None, DATA / "hmdb51_headerless.csv", HMDB, n=1)
    assert report.format_from == "detected: CSV without a header"
    assert [s.candidate(by_name(HMDB, "chew")).subtexts[0] for s in sources] == [
        "the jaw moves up and down in a steady rhythm", "food is pushed between the back teeth",
        "lips stay closed while the cheeks bulge"]
    assert report.sets_by_class == {"chew": 3, "clap": 1}


@pytest.mark.parametrize(("file", "format"), [
    ("cupl_ucf101.json", "cupl"), ("froster_hmdb51.json", "froster"),
    ("froster_multi_hmdb51.json", "froster"), ("froster_hmdb51_rephrased.txt", "froster-text"),
    ("hmdb51_sets.csv", "csv"), ("hmdb51_headerless.csv", "csv"),
    ("ost/temporal_descriptors/4_descriptors.json", "ost"),
])
def test_the_format_is_detected_and_the_report_says_so(file, format):
    from corpus.formats import detect_format

    path = DATA / file
    detected, why = detect_format(path, path.read_text(encoding="utf-8"))
    assert detected == format and why


# -- export ----------------------------------------------------------------------------

@pytest.mark.parametrize("format", ["cupl", "ost", "froster", "froster-text", "csv"])
def test_export_then_import_gives_back_the_same_texts(format, curated_bundle, tmp_path):
    from corpus.formats.export import bundle_sets, export_bundle

    out = tmp_path / f"export.{format}"
    export_bundle(curated_bundle, format, out)
    classes = bundle_sets(curated_bundle)
    class_list = HMDB.head(len(classes))
    n = len(classes[0].sets[0][1])
    imported = import_sources(format, out, class_list, n=n)[0][0].imported
    for c in classes:
        assert imported.sets[c.name] == tuple(texts for _, texts in c.sets), c.name
    assert imported.report.cleaned == {} and imported.report.unmatched == []


def test_export_writes_each_projects_shape(curated_bundle, tmp_path):
    from corpus.formats.export import bundle_sets, export_bundle

    selected = bundle_sets(curated_bundle, selected_only=True)
    assert all(len(c.sets) == 1 for c in selected)
    export_bundle(curated_bundle, "ost", tmp_path / "4_descriptors.json", selected_only=True)
    ost = json.loads((tmp_path / "4_descriptors.json").read_text())
    assert list(ost) == ["0", "1"] and all(len(v) == 4 for v in ost.values())
    export_bundle(curated_bundle, "froster", tmp_path / "f.json", selected_only=True)
    froster = json.loads((tmp_path / "f.json").read_text())
    assert froster["0"][0].startswith("Brush hair: ")
    source = selected[0].sets[0][0]
    export_bundle(curated_bundle, "csv", tmp_path / "s.csv", source=source)
    lines = (tmp_path / "s.csv").read_text().splitlines()
    assert lines[0] == "class,set,text" and all(f",{source}," in ln for ln in lines[1:])
    with pytest.raises(SubtextError, match=r"no source 'nope'; it has curated/"):
        export_bundle(curated_bundle, "csv", tmp_path / "x.csv", source="nope")
    assert not (tmp_path / "x.csv").exists()


@pytest.fixture
def bundle_at_out(curated_bundle, tmp_path):
    """A copy of a real bundle at the path an import is told to write to."""
    import shutil

    out = tmp_path / "hmdb51"
    shutil.copytree(curated_bundle, out)
    return out


@pytest.mark.slow  # two runs of the real CLI
def test_a_failed_import_leaves_the_bundle_at_out_untouched(bundle_at_out, tmp_path):
    from tests.corpus.conftest import file_digests, run_cli

    out = bundle_at_out
    before = file_digests(out)
    bad = tmp_path / "bad.json"
    bad.write_bytes(b'{"brush hair": ["ok", 3]}')
    result = run_cli("corpus", "import", "--dataset", "hmdb51", str(bad), "-o", str(out),
                     check=False)
    assert result.returncode != 0
    assert "entry 'brush hair' item 1: expected a string, got int" in result.stderr
    assert "Traceback" not in result.stderr
    assert file_digests(out) == before and "manifest.json" in before
    # A file that reads but gives no class a full set would replace the bundle with one of
    # failed classes: refused before the build too.
    result = run_cli("corpus", "import", "--dataset", "hmdb51",
                     str(DATA / "froster_hmdb51.json"), "-o", str(out), check=False)
    assert result.returncode != 0 and "nothing was written to" in result.stderr
    assert file_digests(out) == before


@pytest.mark.slow  # two runs of the real CLI
def test_a_bad_import_in_a_config_build_leaves_the_bundle_untouched(bundle_at_out, tmp_path):
    """The same guarantee through `corpus build --config` (an `imports:` entry): one line
    naming the file, the entry and the problem; the bundle at --out is unchanged."""
    from tests.corpus.conftest import file_digests, run_cli

    out = bundle_at_out
    before = file_digests(out)
    bad = tmp_path / "bad.json"
    bad.write_bytes(b'{"brush hair": [["nested"]]}')
    for imports, message in (
            ([{"path": str(bad)}], "bad.json: entry 'brush hair' item 0: expected a string, "
                                   "got list"),
            ([{"path": str(DATA / "cupl_ucf101_quirks.json"), "format": "cupl"}],
             "none of its")):
        config = tmp_path / "config.yaml"
        config.write_text(yaml.safe_dump({"curated": "always", "embedded_llm": "never",
                                          "imports": imports}))
        result = run_cli("corpus", "build", "--plain", "--dataset", "hmdb51", "--classes", "2",
                         "--config", str(config), "--out", str(out), "--force", check=False)
        assert result.returncode == 2, result.stderr
        assert message in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        assert file_digests(out) == before and "manifest.json" in before


def test_curated_text_is_found_under_another_spelling_of_the_class(tmp_path):
    from corpus.curated import curated_sources

    rows = ["id,name"] + [f"{c.class_id},{c.name}" for c in K400.classes]
    rows = [r.replace(",dying hair", ",dyeing hair") for r in rows]
    path = tmp_path / "kinetics400.csv"  # a user's copy, spelled as Kinetics-600/700 do
    path.write_text("\n".join(rows) + "\n")
    renamed = load_class_list(str(path))
    dyeing = by_name(renamed, "dyeing hair")
    source = curated_sources("kinetics400")[0]
    original = source.candidate(by_name(K400, "dying hair"))
    assert source.candidate(dyeing).subtexts == original.subtexts


def test_import_options_reach_the_build_config():
    from corpus.config import resolve_config
    from corpus.errors import ConfigError

    cfg = resolve_config(None, import_file=str(DATA / "hmdb51_plain.csv"), import_n=2,
                         import_mapping="index", import_on_long="reject")
    assert cfg.n_subtexts == 2 and cfg.curated == "never"
    [spec] = cfg.imports
    assert (spec.format, spec.mapping, spec.on_long) == ("auto", "index", "reject")
    with pytest.raises(ConfigError, match=r"--n 1: a bundle's sets have 2 to 8 sub-texts"):
        resolve_config(None, import_file=str(DATA / "hmdb51_plain.csv"), import_n=1)


@pytest.mark.slow  # one build with the real CLI
def test_froster_sentences_and_short_sets_reach_the_bundle_marked(tmp_path):
    """One sentence per class (FROSTER) becomes a class-text augmentation of every class it
    names; a class with 3 or 2 descriptions keeps a short set, which is scored, marked and,
    with no full set for its class, selected."""
    import pyarrow.parquet as pq

    from corpus.verify import verify_bundle
    from model.bundle import load_bundle, load_text_embeddings
    from tests.corpus.conftest import run_cli

    two = tmp_path / "clap_two.csv"  # a 2-of-4 short set for clap
    two.write_text("class,text\nclap,both palms meet in front of the chest\n"
                   "clap,the hands spring apart and meet again\n")
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({
        "curated": "never", "embedded_llm": "never", "tpp": {"encoder": "clip"},
        "encoders": [{"model": "subtext-tiny", "pretrained": "random"}],
        "imports": [{"path": str(DATA / "hmdb51_sets.csv")},  # catch: 3 of 4
                    {"path": str(DATA / "hmdb51_plain.csv")},
                    {"path": str(two)},
                    {"path": str(DATA / "froster_hmdb51.json"), "format": "froster"}]}))
    out = tmp_path / "bundle"
    result = run_cli("corpus", "build", "--plain", "--dataset", "hmdb51", "--classes", "5",
                     "--config", str(config), "--out", str(out))
    assert "classes: 5 done, 0 failed" in result.stdout
    assert "short sets (fewer than N sub-texts, marked `short`): 2 valid, 2 selected" \
        in result.stdout
    assert "class-text augmentations (one sentence, marked `class_text`): 4" in result.stdout
    assert verify_bundle(out) == []

    rows = pq.read_table(out / "subtexts.parquet").to_pylist()
    froster = json.loads((DATA / "froster_hmdb51.json").read_text())
    sentences = {v.split(": ", 1)[1] for v in froster.values()}
    augmentations = [r for r in rows if r["set_kind"] == "class_text"]
    assert {r["text"] for r in augmentations} == sentences  # every class the file names
    assert all(r["source"] == "import:froster/froster_hmdb51/0" and r["tpp"] is None
               and r["rejected_reason"] is None and not r["selected"] and r["n_tokens"] > 2
               for r in augmentations)
    classes = {c["name"]: c for c in pq.read_table(out / "classes.parquet").to_pylist()}
    for name, size in (("catch", 3), ("clap", 2)):
        chosen = [r for r in rows if r["class_id"] == classes[name]["class_id"]
                  and r["selected"]]
        assert len(chosen) == size and {r["set_kind"] for r in chosen} == {"short"}
        assert chosen[0]["tpp"] is not None and all(r["sigma"] is not None for r in chosen)
    assert {r["set_kind"] for r in rows if r["source"].startswith("import:csv/hmdb51_plain")} \
        == {"full"}
    manifest = json.loads((out / "manifest.json").read_text())
    counts = manifest["counts"]
    assert (counts["short_sets_valid"], counts["short_sets_selected"],
            counts["class_text_augmentations"]) == (2, 2, 4)
    froster_source = next(s for s in manifest["sources"] if s["format"] == "froster")
    assert froster_source["short_sets"] == ["brush_hair", "cartwheel", "catch", "chew"]

    # The reader gives each class its augmentation beside the class text, with word
    # embeddings, and the selected set's kind; the assessment sees the augmentation source.
    bundle = load_bundle(out)
    by_name_ = {c.name: c for c in bundle.classes}
    text, pooled, words = by_name_["catch"].augmentations["import:froster/froster_hmdb51/0"]
    assert text in sentences and pooled.shape == (bundle.dim,) and words.shape[1] == bundle.dim
    assert by_name_["catch"].set_kind == "short" and len(by_name_["catch"].subtexts) == 3
    assert by_name_["chew"].set_kind == "full" and not by_name_["clap"].augmentations
    emb = load_text_embeddings(out)
    aug = [s for s in emb.sets if s.set_kind == "class_text"]
    assert len(aug) == 4 and all(s.tpp is None and len(s.texts) == 1 for s in aug)

    from corpus.show import show

    shown = show(out, "catch")
    assert "import:froster/froster_hmdb51/0  class-text augmentation" in shown
    assert "(short set of 3)" in shown

    # `export` writes the augmentations back in FROSTER's shape; import gives them back.
    from corpus.formats.export import export_bundle

    export_bundle(out, "froster", tmp_path / "again.json", "import:froster/froster_hmdb51/0")
    again = import_sources("froster", tmp_path / "again.json", HMDB.head(5))[0][0]
    assert {again.candidate(by_name(HMDB, n)).subtexts[0] for n in again.imported.short} \
        == sentences

    # The zero-shot assessment uses the augmentation as the class text of its source: with
    # videos that are exactly those embeddings, that source's `set` variant finds them all.
    import numpy as np

    from model.assess.videos import Videos
    from model.assess.zeroshot import assess_bundle, tpp_analysis

    by_class = {s.class_id: s.pooled[0] for s in aug}
    vids = np.stack([by_class.get(c, emb.class_pooled[c]) for c in range(len(emb.names))])
    report = assess_bundle("b", emb, Videos(vids, np.arange(len(emb.names)), {}), None, [],
                           [], seeds=2)
    row = next(r for r in report["sources"] if r["source"] == "import:froster/froster_hmdb51/0")
    assert row["mean_tpp"] is None and row["classes"] == 4 and row["tpp_by_class"] == {}
    assert row["set"]["top1"] == 1.0
    assert tpp_analysis([report], emb.names)["sources"] == len(report["sources"]) - 1
