"""Token lengths wherever text enters a bundle: `n_tokens` / `truncated` in subtexts.parquet
(CLIP's BPE, context 77) and in each encoder's embeddings file (that encoder's tokenizer)."""

import json

import pyarrow.parquet as pq
import pytest

from contract import embeddings_file
from corpus.tokens import CLIP_CONTEXT, clip_token_counts, fit_clip_context
from tests.conftest import REPO_ROOT
from tests.corpus.conftest import build_curated_bundle

QUIRKS = REPO_ROOT / "tests" / "data" / "imports" / "cupl_ucf101_quirks.json"


def test_clip_token_counts_include_start_and_end_and_cutting_fits_the_context():
    import open_clip

    texts = ["", "a person claps", "Step 1: pick up the brush, then… brush!"]
    # open_clip.tokenize pads with id 0 after the end token: the real tokens are the rest.
    assert clip_token_counts(texts) == (open_clip.tokenize(texts) != 0).sum(1).tolist()
    assert clip_token_counts([""]) == [2]
    long = json.loads(QUIRKS.read_text())["Balance Beam"][0]
    assert clip_token_counts([long]) == [90]
    cut = fit_clip_context(long)
    assert long.startswith(cut) and clip_token_counts([cut])[0] <= CLIP_CONTEXT
    assert clip_token_counts([cut + " " + long.split()[len(cut.split())]])[0] > CLIP_CONTEXT


@pytest.fixture(scope="module")
def imported_bundle(tmp_path_factory):
    """UCF-101's first five classes from the CuPL-shaped quirks file only: BalanceBeam's
    set holds a 90-token description."""
    out = tmp_path_factory.mktemp("tokens") / "ucf101"
    return build_curated_bundle(out, dataset="ucf101", classes=5, curated="never",
                                imports=[{"format": "auto", "path": str(QUIRKS)}])


def test_every_subtext_row_records_its_clip_token_count(imported_bundle):
    rows = pq.read_table(imported_bundle / "subtexts.parquet").to_pylist()
    assert rows and [r["n_tokens"] for r in rows] == clip_token_counts([r["text"] for r in rows])
    long = [r for r in rows if r["truncated"]]
    assert [r["n_tokens"] for r in long] == [90]
    assert all(r["n_tokens"] <= CLIP_CONTEXT for r in rows if not r["truncated"])
    manifest = json.loads((imported_bundle / "manifest.json").read_text())
    assert manifest["counts"]["subtexts_truncated"] == 1
    [source] = [s for s in manifest["sources"] if s["kind"] == "import"]
    assert source["long"] == 1 and source["on_long"] == "keep"
    assert source["cleaned"]["enumerator only"] == 2


def test_each_encoders_file_records_its_own_token_count(imported_bundle):
    manifest = json.loads((imported_bundle / "manifest.json").read_text())
    for encoder in manifest["encoders"]:
        rows = pq.read_table(imported_bundle / embeddings_file(encoder["id"])).to_pylist()
        assert all(r["n_tokens"] >= 2 for r in rows)
        assert all(r["truncated"] == (r["n_tokens"] > encoder["context_length"]) for r in rows)
        if encoder["id"].startswith("open_clip"):
            assert [r["n_tokens"] for r in rows] == clip_token_counts([r["text"] for r in rows])
            assert sum(r["truncated"] for r in rows if r["kind"] == "subtext") == 1


def test_the_learner_reads_the_token_counts_of_selected_subtexts(imported_bundle):
    from model.bundle import load_bundle

    bundle = load_bundle(imported_bundle)
    chosen = [c for c in bundle.classes if c.subtexts]
    assert chosen
    for c in chosen:
        assert c.subtext_n_tokens == clip_token_counts(c.subtexts)
        assert c.subtext_truncated == [n > CLIP_CONTEXT for n in c.subtext_n_tokens]


TRICKY = ["", "x" * 300, "Ünïcödé café naïve, 東京 and 🙂", "&amp;lt;b&gt; in html",
          "don't, I'll, we've",
          "1234567 and 3.14", "tab\there\nnew line", "  it's   SPACED  ", "\u200bzero width",
          "ﬁ ligature", "mojibake â€œquoteâ€\x9d", "PUNCH!!! ... ?!", "sit-ups/push-ups (x10)"]


def test_counts_equal_open_clips_tokenizer_on_all_curated_text_and_odd_strings():
    from open_clip.tokenizer import SimpleTokenizer

    from corpus.curated import load_curated

    texts = list(TRICKY)
    for dataset in ("hmdb51", "ucf101", "kinetics400"):
        for entry in load_curated(dataset).classes.values():
            texts += [entry.name, *(t for s in entry.candidates.values() for t in s)]
    reference = SimpleTokenizer()
    assert clip_token_counts(texts) == [len(reference.encode(t)) + 2 for t in texts]


def test_counting_does_not_import_torch():
    import subprocess
    import sys

    code = ("import sys; from corpus.tokens import clip_token_counts; "
            "assert clip_token_counts(['a person claps']) == [6]; "
            "print(sorted(m for m in ('torch', 'open_clip') if sys.modules.get(m)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=REPO_ROOT)
    assert out.stdout.strip() == "[]"
