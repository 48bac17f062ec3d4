"""Intrinsic assessment (`subtext corpus assess`): known answers on a real bundle built by
the corpus CLI (curated perspectives plus imported CSV sources whose sub-texts name their
class, the same sub-texts shuffled across classes, echoes of the class name, and over-long
strings), scored with the real MiniLM encoder and open_clip tokenizer; the Prefect flow's
artifacts; `corpus show --assessment`; bad inputs. The tests on built bundles are `slow`
(three builds); the measures and the tokenizer are checked fast."""

import asyncio
import csv
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from corpus.assess import measures
from corpus.assess.intrinsic import clip_token_counter
from tests.conftest import REPO_ROOT, one_error_line

N_CLASSES = 8
NAMED = ["{} seen from the side", "a person {} slowly", "{} in one smooth motion",
         "the moment of {} up close"]
ECHO = ["a person {}", "someone {}", "the man {}", "a woman {}"]
# Ninety distinct words: far over CLIP's 77-token context.
LONG_WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike "
              "november oscar papa quebec romeo sierra tango uniform victor whiskey yankee "
              "zulu").split()


def long_text(label: str) -> str:
    words = [f"{w}{i}" for i in range(4) for w in LONG_WORDS][:90]
    return f"{label} " + " ".join(words)


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipelines.cli", *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=900)


def write_csv(path, rows):
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["class", "text"])
        w.writerows(rows)


def labels_of(dataset: str, n: int) -> list[tuple[str, str]]:
    from corpus.classes import load_class_list

    return [(c.name, c.label) for c in load_class_list(dataset).classes[:n]]


def write_inputs(root):
    """The imported CSV files and two configs: `main` (curated text and four imported
    sources) and `curated` (curated text only, for --against)."""
    classes = labels_of("hmdb51", N_CLASSES)
    named = [[t.format(label) for t in NAMED] for _, label in classes]
    shift = [named[(i + 1) % len(named)] for i in range(len(named))]  # a derangement
    for name, sets in (("named", named), ("shuffled", shift)):
        write_csv(root / f"{name}.csv", [(n, t) for (n, _), ts in zip(classes, sets, strict=True)
                                         for t in ts])
    write_csv(root / "echo.csv", [(n, t.format(label)) for n, label in classes for t in ECHO])
    write_csv(root / "long.csv", [(n, t) for n, label in classes
                                  for t in [long_text(label), *NAMED[1:]]])
    base = ("class_template: '{}'\nn_subtexts: 4\nseed: 0\ncurated: always\n"
            "embedded_llm: never\nendpoints: []\nencoders: []\n")
    (root / "curated.yaml").write_text(base)
    (root / "main.yaml").write_text(
        base + "imports:\n" + "".join(
            f"  - {{format: csv, path: {root / name}.csv, label: {name}}}\n"
            for name in ("named", "shuffled", "echo", "long")))
    return root


def build(root, name, classes=N_CLASSES, config=None):
    done = cli("corpus", "build", "--dataset", "hmdb51", "--classes", str(classes),
               "--config", str(root / f"{config or name}.yaml"), "--out", str(root / name),
               "--plain")
    assert done.returncode == 0, done.stderr[-2000:]
    return root / name


# One build per fixture: pytest-timeout counts a test's fixture set-up against it.
@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return write_inputs(tmp_path_factory.mktemp("assess"))


@pytest.fixture(scope="module")
def main_bundle(inputs):
    return build(inputs, "main")


@pytest.fixture(scope="module")
def curated_bundle(inputs):
    return build(inputs, "curated")


@pytest.fixture(scope="module")
def assessed(main_bundle):
    done = cli("corpus", "assess", str(main_bundle), "--plain")
    assert done.returncode == 0, done.stderr[-3000:]
    out = main_bundle.parent / "main.assessment"
    return done.stdout, json.loads((out / "assessment.json").read_text()), out


def by_source(a: dict) -> dict:
    """Rows by source, imported ones by their label (`import:csv/named/0` -> `named`)."""
    return {s["source"].split("/")[1] if s["source"].startswith("import:") else s["source"]: s
            for s in a["sources"]}


@pytest.mark.slow
def test_retrieval_knows_named_from_shuffled_text(assessed):
    _, a, _ = assessed
    rows = by_source(a)
    enc = a["tpp_encoder"]
    assert enc.startswith("minilm")
    named, shuffled = rows["named"]["retrieval"][enc], rows["shuffled"]["retrieval"][enc]
    assert named["n"] == shuffled["n"] == 4 * N_CLASSES
    assert named["top1"] >= 0.9 and named["set_top1"] == 1.0
    # Every shuffled sub-text names another class: below chance, and every class confusable.
    assert shuffled["top1"] <= a["chance"]["top1"]
    assert shuffled["confusable_classes"] == N_CLASSES
    assert named["confusable_classes"] == 0
    worst = shuffled["worst_confusions"][0]
    assert {worst["class"], worst["nearer_to"]} <= set(a["class_names"])


@pytest.mark.slow
def test_echo_near_duplicates_and_coverage(assessed):
    _, a, _ = assessed
    rows = by_source(a)
    assert rows["echo"]["echo_rate"] == 1.0
    # "brush hair seen from the side" says little beyond the class name; curated text more.
    curated_echo = max(s["echo_rate"] for s in a["sources"] if s["kind"] == "curated")
    assert curated_echo < 0.25 < rows["named"]["echo_rate"]
    for name in ("named", "shuffled", "long"):
        assert rows[name]["coverage"]["rate"] == 1.0, name
    curated = [s for s in a["sources"] if s["kind"] == "curated"]
    assert curated and all(s["near_duplicate_rate"] is not None for s in curated)
    templates = rows["templates (class name)"]
    assert templates["kind"] == "templates" and templates["valid_sets"] == N_CLASSES
    selected = rows["TPP-selected"]
    assert selected["coverage"]["classes"] == selected["valid_sets"]


@pytest.mark.slow
def test_tokens_count_truncation_for_clip(assessed):
    _, a, _ = assessed
    rows = by_source(a)
    clip = next(t for t in a["token_limits"] if t.startswith("open_clip"))
    assert a["token_limits"][clip] == 77
    assert rows["long"]["tokens"][clip]["truncated"] == N_CLASSES
    assert rows["long"]["tokens"][clip]["max"] > 90
    assert rows["named"]["tokens"][clip]["truncated"] == 0
    minilm = next(t for t in a["token_limits"] if t.startswith("MiniLM"))
    assert a["token_limits"][minilm] == 256
    assert rows["long"]["tokens"][minilm]["truncated"] == 0


def test_a_90_token_string_is_truncated_by_clip():
    _, count, context = clip_token_counter("ViT-B-32")
    ninety = " ".join(["hair"] * 88)  # one BPE token each, plus start- and end-of-text
    assert context == 77
    assert count([ninety, "brush hair"]) == [90, 4]
    assert measures.token_stats(count([ninety, "brush hair"]), context)["truncated"] == 1
    assert measures.token_stats(count([" ".join(["hair"] * 75)]), context)["truncated"] == 0


@pytest.mark.slow
def test_knowledge_coverage_and_outputs(assessed):
    stdout, a, out = assessed
    k = a["knowledge"]
    assert k["entities"] > 0 and 0 <= k["entities_without_description"] <= k["entities"]
    assert k["units"] > 0
    for f in ("report.md", "assessment.json", "retrieval.png", "quality.png", "tokens.png"):
        assert (out / f).stat().st_size > 0, f
    assert (out / "retrieval.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (out / "report.md").read_text()
    assert report.index("## Summary") < report.index("## Most confusable")
    assert "| source |" in stdout and "named" in stdout
    # Re-embedding a bundle's texts hits the embedding cache (the build embedded them).
    assert a["embedding_cache"]["hits"] > 0


@pytest.mark.slow
def test_against_compares_source_by_source(main_bundle, curated_bundle, tmp_path):
    done = cli("corpus", "assess", str(main_bundle), "--against", str(curated_bundle),
               "--plain", "-o", str(tmp_path / "vs"))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "A = " in done.stdout
    c = json.loads((tmp_path / "vs" / "assessment.json").read_text())["against"]
    assert c["b"] == str(curated_bundle)
    rows = {r["source"]: r for r in c["sources"]}
    named = next(r for k, r in rows.items() if "/named/" in k)
    assert named["in"] == "a"
    shared = [r for r in c["sources"] if r["in"] == "both"]
    assert any(r["source"].startswith("curated/") for r in shared)
    enc = c["encoders"][0]
    curated = next(r for r in shared if r["source"].startswith("curated/"))
    assert curated[f"{enc}:top1"]["delta"] == 0  # the same curated text in both


@pytest.mark.slow
def test_show_prints_the_assessment_summary(assessed, main_bundle, curated_bundle):
    _, _, out = assessed
    done = cli("corpus", "show", str(main_bundle), "--assessment")
    assert done.returncode == 0, done.stderr
    assert "| source |" in done.stdout and "TPP-selected" in done.stdout
    explicit = cli("corpus", "show", str(main_bundle), "--assessment", str(out))
    assert explicit.stdout == done.stdout
    missing = cli("corpus", "show", str(curated_bundle), "--assessment")
    assert missing.returncode == 2
    assert missing.stderr.count("\n") == 1 and "no assessment there" in missing.stderr


@pytest.mark.slow
def test_the_flow_publishes_artifacts(curated_bundle, tmp_path):
    from pipelines.prefect_settings import configure_prefect_defaults

    configure_prefect_defaults()  # as the CLI does: a longer wait for the ephemeral API
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from pipelines.assess_flow import run_assess_flow

    result = run_assess_flow(str(curated_bundle), str(tmp_path / "flow-out"))
    assert (tmp_path / "flow-out" / "report.md").is_file()

    async def read_back():
        async with get_client() as client:
            return await client.read_artifacts(artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=["text-assessment-summary",
                                            "text-assessment-report"])))

    artifacts = {a.key: a for a in asyncio.run(read_back())}
    assert set(artifacts) == {"text-assessment-summary", "text-assessment-report"}
    table = artifacts["text-assessment-summary"].data
    table = json.loads(table) if isinstance(table, str) else table
    assert [r["source"] for r in table] == [s["source"] for s in result["assessment"]["sources"]]
    assert "retrieval.png" in artifacts["text-assessment-report"].data


@pytest.mark.slow
def test_bad_inputs_get_one_line(inputs, curated_bundle, tmp_path):
    one_error_line(cli("corpus", "assess", str(tmp_path), "--plain"), str(tmp_path),
                   "manifest.json")
    broken = tmp_path / "broken"
    shutil.copytree(curated_bundle, broken)
    with (broken / "subtexts.parquet").open("ab") as f:
        f.write(b"x")
    one_error_line(cli("corpus", "assess", str(broken), "--plain", "-o", str(tmp_path / "o")),
                   str(broken), "does not verify")
    assert not (tmp_path / "o").exists()
    other = build(inputs, "other", N_CLASSES - 1, config="curated")
    before = sorted(p.name for p in curated_bundle.parent.iterdir())
    one_error_line(cli("corpus", "assess", str(curated_bundle), "--against", str(other),
                       "--plain", "-o", str(tmp_path / "o2")),
                   "do not have the same classes")
    assert not (tmp_path / "o2").exists()
    assert sorted(p.name for p in curated_bundle.parent.iterdir()) == before


@pytest.mark.slow
def test_the_flow_refuses_bad_input_in_one_line(tmp_path):
    """Through the flow (the default) the error is raised in a task: Prefect's console
    must not print the failed task's state as a second line."""
    one_error_line(cli("corpus", "assess", str(tmp_path), "-o", str(tmp_path / "o")),
                   str(tmp_path), "manifest.json")
    assert not (tmp_path / "o").exists()


def test_measures_known_answers():
    classes = np.eye(3)
    texts = np.array([[1, 0.1, 0], [0.2, 1, 0], [1, 0, 0.1]])
    ranks = measures.retrieval_ranks(texts, np.array([0, 1, 2]), classes)
    assert ranks.tolist() == [0, 0, 1]  # the third is nearer class 0 than its own
    conf = measures.confusions(texts, np.array([0, 1, 2]), classes)
    assert [(a, b) for a, b, _ in conf] == [(2, 0)]
    # Word overlap 4/5 for the first pair; cosine 0.99998 for the second.
    dup = measures.near_duplicates(
        ["kick the ball hard", "kick the ball hard now", "run fast", "sprint quickly",
         "climb a wall"], np.array([[1, 0], [0, 1], [1, 1], [1, 1.01], [-1, 0.2]]), 0.97)
    assert dup.tolist() == [True, True, True, True, False]
    echo = measures.echoes(["a person brushing hair", "combing tangles out slowly"],
                           "brush hair", np.array([[0, 1], [0, 1]]), np.array([1, 0]), 0.5)
    assert echo.tolist() == [True, False]  # textual: nothing beyond the label and the actor
    near = measures.echoes(["combing tangles out slowly"], "brush hair", np.array([[1, 0.1]]),
                           np.array([1, 0]), 0.9)
    assert near.tolist() == [True]  # as close to the class text as the reference template
