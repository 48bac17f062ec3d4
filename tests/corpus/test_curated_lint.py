"""The curated text's rules (corpus.curated_lint), its gate with the real MiniLM encoder,
its per-class curation records, and the one provenance sentence.

Each rule is shown failing on a small bad record written to a temporary curated file,
and passing on a good one; the shipped HMDB-51 and UCF-101 text passes every rule."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from corpus.classes import load_class_list
from corpus.curated import CURATED_PROVENANCE, PERSPECTIVES, load_curated
from corpus.curated_lint import (
    RULES,
    LintInput,
    discrimination_gate,
    encoder_fn,
    gate_encoders,
    lint,
    lint_dataset,
    score_set,
    siblings,
)
from corpus.curation import curation_records
from tests.conftest import REPO_ROOT

# The datasets whose shipped curated text must pass every rule, the gate included.
# Kinetics-400 joins with one word once its rewritten text is merged.
GATED_DATASETS = ["hmdb51", "ucf101", "kinetics400"]

GOOD = {
    "class": "playing_guitar",
    "candidates": [
        {"perspective": "temporal_phases", "subtexts": [
            "The guitarist sets the guitar on the lap",
            "The guitarist's fingers press a chord on the frets",
            "The strumming hand sweeps across the six strings",
            "The guitarist lifts the hand to mute the strings"]},
        {"perspective": "body_movements", "subtexts": [
            "The left wrist curls under the guitar neck",
            "The right forearm rests on the guitar's body",
            "The fingertips slide along the fretboard to a new chord",
            "The head nods in time over the guitar"]},
        {"perspective": "objects_and_scene", "subtexts": [
            "An acoustic guitar with a round hole under the strings",
            "A guitar pick held between thumb and finger",
            "A small stage with a microphone stand in front",
            "A guitar case open on the bedroom floor"]},
    ],
    "units": {"body_parts": ["fingers", "wrist"], "objects": ["guitar", "pick"],
              "scenes": ["stage", "bedroom"], "motions": ["press strings", "strum"]},
    "roles": ["guitarist"],
    "unit_overrides": {"strum": "a visible hand movement; WordNet files it under perception"},
}


def write_curated(tmp_path: Path, records: list[dict], provenance: str = CURATED_PROVENANCE):
    """A one-dataset curated folder (`tiny`) with its class list; -> LintInput."""
    (tmp_path / "tiny.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (tmp_path / "revisions.json").write_text(json.dumps(
        {"tiny": {"revision": 1, "provenance": provenance}}))
    (tmp_path / "classes.csv").write_text(
        "id,name\n" + "".join(f"{i},{r['class']}\n" for i, r in enumerate(records)))
    return LintInput(load_curated("tiny", tmp_path / "tiny.jsonl"),
                     load_class_list(str(tmp_path / "classes.csv")))


def with_line(record: dict, perspective: str, index: int, text: str) -> dict:
    r = json.loads(json.dumps(record))
    next(c for c in r["candidates"] if c["perspective"] == perspective)["subtexts"][index] = text
    return r


def problems_of(x: LintInput, rule: str) -> list[str]:
    return [m for _, m in lint(x, only={rule})[rule]]


def test_a_good_record_passes_every_text_rule(tmp_path):
    found = lint(write_curated(tmp_path, [GOOD]))
    assert "discrimination" not in found  # no encoder given
    assert found == {name: [] for name, r in RULES.items() if not r.needs_encoder}


def bad_records() -> dict[str, tuple[list[dict], str]]:
    """rule -> (records that break it, a phrase its problem must contain)."""
    reordered = json.loads(json.dumps(GOOD))
    reordered["candidates"] = reordered["candidates"][::-1]
    two_sets = json.loads(json.dumps(GOOD))
    two_sets["candidates"] = two_sets["candidates"][:2]
    other = json.loads(json.dumps(GOOD)) | {"class": "strumming_guitar"}
    bad_kind = json.loads(json.dumps(GOOD))
    bad_kind["units"]["scenes"] = ["wedding"]
    plural = json.loads(json.dumps(GOOD))
    plural["units"]["objects"] = ["guitar", "guitars"]
    stray_override = json.loads(json.dumps(GOOD))
    stray_override["unit_overrides"] = {"banjo": "not a unit of this class"}
    return {
        "perspectives": ([two_sets], "sets must be"),
        "subtext_length": ([with_line(GOOD, "body_movements", 0, "Fingers press")], "words"),
        "adds_to_name": ([with_line(GOOD, "temporal_phases", 0, "The person is playing the "
                                    "guitar")], "restates"),
        "near_duplicates": ([with_line(GOOD, "body_movements", 3, "The guitarist sets the "
                                       "guitar on the lap now")], "near-duplicate"),
        "non_visual": ([with_line(GOOD, "temporal_phases", 3, "The guitarist hears a loud "
                                  "chord ring out")], "non-visual"),
        "neutral_actor": ([with_line(GOOD, "body_movements", 3, "He nods his head in time "
                                     "with the guitar")], "gendered"),
        "no_repeats": ([GOOD, other], "also in class"),
        "unit_kinds": ([bad_kind], "WordNet"),
        "unit_duplicates": ([plural], "duplicates"),
        "unit_format": ([stray_override], "not a unit of the class"),
        "coverage": ([reordered, GOOD], "repeats"),
    }


@pytest.mark.parametrize("rule", sorted(bad_records()))
def test_each_rule_rejects_a_bad_record(tmp_path, rule):
    records, phrase = bad_records()[rule]
    if rule == "coverage":  # a repeated class is refused when the file is read
        from corpus.errors import SubtextError
        with pytest.raises(SubtextError, match=phrase):
            write_curated(tmp_path, records)
        return
    found = problems_of(write_curated(tmp_path, records), rule)
    assert found and all(phrase in p for p in found), found


def test_a_gendered_class_may_name_its_actor(tmp_path):
    record = with_line(GOOD | {"class": "woman_playing_guitar"}, "body_movements", 3,
                       "She nods her head in time with the guitar")
    assert problems_of(write_curated(tmp_path, [record]), "neutral_actor") == []


def test_the_provenance_rule_wants_the_one_sentence(tmp_path):
    x = write_curated(tmp_path, [GOOD], provenance="written by hand and reviewed")
    assert problems_of(x, "provenance")


def test_score_set_is_the_gate_arithmetic():
    # three labels on axes; a set pointing mostly at label 0 passes against siblings 1, 2
    labels = np.eye(3, dtype=np.float32)
    sub = np.array([[0.9, 0.1, 0], [0.8, 0, 0.2], [1, 0, 0], [0.2, 0.9, 0]], np.float32)
    sub /= np.linalg.norm(sub, axis=1, keepdims=True)
    passes, margin, nearest, in_top = score_set(0, sub, labels, np.array([1, 2]), k=1)
    assert passes and margin > 0 and nearest == 0
    assert in_top.tolist() == [True, True, True, False]
    # labels at 0, 10, 60 and 90 degrees: each one's nearest other label is its sibling
    angles = np.radians([0, 10, 60, 90])
    circle = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    assert siblings(circle, 1)[:, 0].tolist() == [1, 0, 3, 2]


@pytest.fixture(scope="module")
def minilm():
    return gate_encoders()[0]


def test_the_gate_with_minilm_passes_a_specific_set_and_fails_a_generic_one(tmp_path, minilm):
    names = ["playing_guitar", "playing_violin", "eating_burger", "swimming_backstroke",
             "riding_a_bike", "shoveling_snow", "brushing_teeth"]
    generic = json.loads(json.dumps(GOOD))
    generic["candidates"][1]["subtexts"] = [
        "The person lifts both arms", "The hands move up and down",
        "The head turns to the side", "The body leans forward a little"]
    records = [generic] + [
        {"class": n, "candidates": [], "units": {}, "roles": []} for n in names[1:]]
    x = write_curated(tmp_path, records)
    # seven classes: siblings and the sub-text top-k are the 2 nearest, not the default 5
    gate = discrimination_gate(x.curated, x.classes, encoder_fn(minilm), minilm.id, k=2)
    by_set = {s.perspective: s for s in gate.sets if s.name == "playing_guitar"}
    assert by_set["objects_and_scene"].passes and by_set["temporal_phases"].passes
    assert by_set["objects_and_scene"].nearest == "playing_guitar"
    assert not by_set["body_movements"].passes
    assert len(by_set["body_movements"].failing_subtexts) >= 2
    assert by_set["objects_and_scene"].failing_subtexts == ()
    summary = gate.summary()
    assert summary["sets_checked"] == 3 and summary["sibling_pairs_checked"] == 6
    failing = [m for _, m in next(iter(
        [lint(LintInput(x.curated, x.classes, [gate]), only={"discrimination"})]))[
        "discrimination"]]
    assert any("body_movements" in m and "siblings" in m for m in failing)


@pytest.mark.slow
@pytest.mark.parametrize("dataset", GATED_DATASETS)
def test_the_shipped_curated_text_passes_every_rule(dataset, minilm):
    result = lint_dataset(load_curated(dataset), load_class_list(dataset), [minilm])
    assert {r: ps for r, ps in result.problems.items() if ps} == {}
    summary = result.gates[0].summary()
    assert summary["set_pass_rate"] == 1.0
    assert set(summary["own_class_nearest_name_rate"]) == set(PERSPECTIVES)
    assert min(summary["own_class_nearest_name_rate"].values()) >= 0.6


@pytest.mark.parametrize("dataset", [*GATED_DATASETS, "synthetic"])
def test_curation_records_cover_every_class_and_match_the_text(dataset):
    curated = load_curated(dataset)
    assert set(curated.curation) == set(curated.classes)
    from corpus.curation import class_text_sha256
    for name, entry in curated.classes.items():
        record = curated.curation[name]
        assert record["text_sha256"] == class_text_sha256(entry), f"{name}: stale record"
        assert record["written"] == CURATED_PROVENANCE and record["rules_failed"] == []


def test_curation_records_keep_dates_of_unchanged_classes(tmp_path):
    x = write_curated(tmp_path, [GOOD])
    from corpus.curated_lint import LintResult
    result = LintResult("tiny", lint(x), [])
    first = curation_records(x.curated, result, "2026-01-01")["classes"]
    again = curation_records(x.curated, result, "2026-02-02", first)["classes"]
    assert again == first  # unchanged text: same revision and date
    changed = write_curated(tmp_path, [with_line(GOOD, "body_movements", 3,
                                                 "The head bobs above the guitar body")])
    later = curation_records(changed.curated, result, "2026-03-03", first)["classes"]
    assert later["playing_guitar"]["revision"] == 2
    assert later["playing_guitar"]["revised"] == "2026-03-03"


def test_the_manifest_source_carries_the_bundles_curation_records():
    from corpus.card import _source_line
    from corpus.unit_sources import CuratedUnitSource

    info = CuratedUnitSource(load_curated("hmdb51"), class_names=("brush_hair",)).describe()
    assert info["provenance"] == CURATED_PROVENANCE
    assert list(info["curation"]["classes"]) == ["brush_hair"]
    assert CURATED_PROVENANCE in _source_line(info)


def test_lint_curated_command_writes_its_report(tmp_path):
    out = tmp_path / "report.json"
    run = subprocess.run([sys.executable, "-m", "pipelines.cli", "corpus", "lint-curated",
                          "synthetic", "--no-gate", "--json", str(out)],
                         cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "synthetic: ok" in run.stdout
    report = json.loads(out.read_text())["datasets"][0]
    assert report["ok"] and "perspectives" in report["exempt"]
    bad = subprocess.run([sys.executable, "-m", "pipelines.cli", "corpus", "lint-curated",
                          "synthetic", "--clip", "subtext-tiny", "--pretrained", "random"],
                         cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert bad.returncode != 0 and "random CLIP weights" in bad.stderr
    assert "Traceback" not in bad.stderr


# The wording the curated text must never carry again, and where the truth must appear.
OLD_CLAIMS = ("written by hand", "reviewed by the project's authors",
              "reviewed by the subtext project's authors", "written and reviewed",
              "human-reviewed", "not model output",
              "re-read class by class", "project's reviewed reference text")


def test_no_file_repeats_the_old_provenance_claims():
    files = subprocess.run(["git", "ls-files"], cwd=REPO_ROOT, capture_output=True,
                           text=True, check=True).stdout.split()
    this = Path(__file__).relative_to(REPO_ROOT).as_posix()
    offenders = []
    for f in files:
        path = REPO_ROOT / f
        if f == this or not path.is_file() or path.suffix in (".parquet", ".gz", ".png"):
            continue
        text = path.read_text(errors="ignore").lower()
        offenders += [f"{f}: {c!r}" for c in OLD_CLAIMS if c.lower() in text]
    assert offenders == []


def test_every_provenance_statement_is_the_one_sentence():
    revisions = json.loads((REPO_ROOT / "data/curated/revisions.json").read_text())
    assert {r["provenance"] for r in revisions.values()} == {CURATED_PROVENANCE}
    for doc in ("README.md", "docs/curated-format.md"):
        assert CURATED_PROVENANCE in (REPO_ROOT / doc).read_text(), doc
    for records in (REPO_ROOT / "data/curated").glob("*.curation.json"):
        assert json.loads(records.read_text())["provenance"] == CURATED_PROVENANCE


def test_a_bundle_shows_tpps_choice_and_carries_provenance_and_records(curated_bundle):
    import contract
    from corpus import store
    from corpus.show import show

    choice = next(line for line in show(curated_bundle, "brush_hair").splitlines()
                  if line.startswith("curated sets by TPP:"))
    assert all(p in choice for p in PERSPECTIVES) and "-> selected " in choice
    manifest = store.read_manifest(curated_bundle)
    units = next(s for s in manifest["sources"] if s["id"] == "curated/units")
    names = [c["name"] for c in store.read_table(curated_bundle, "classes.parquet").to_pylist()]
    assert list(units["curation"]["classes"]) == names
    assert {s["provenance"] for s in manifest["sources"]} == {CURATED_PROVENANCE}
    assert CURATED_PROVENANCE in (curated_bundle / contract.CARD).read_text()
