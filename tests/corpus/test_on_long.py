"""`on_long` (docs/sharing.md): a sub-text over CLIP's 77 tokens or 200 characters, from any
source, is kept and flagged, cut to fit and recorded, or its set rejected with the reason;
counted with the real open_clip tokenizer."""

import contextlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from corpus.config import CorpusConfig, TPPConfig
from corpus.errors import SubtextError
from corpus.selection import score_class
from corpus.subtexts import Candidate, apply_on_long
from corpus.tokens import CLIP_CONTEXT, clip_token_counts
from tests.conftest import REPO_ROOT
from tests.corpus.conftest import data_folder

# A curated-like sub-text far over CLIP's context (and over 200 characters).
LONG = ("The person reaches up with the right hand, takes the wide paddle hairbrush from the "
        "glass shelf beside the bathroom mirror, lifts it slowly to the crown of the head, "
        "sets the soft bristles against the scalp, draws them down through the long tangled "
        "hair to the very ends, and then repeats the same careful stroke again and again "
        "until every strand lies flat, smooth and shiny, puts the brush back on the shelf "
        "and checks the result in the mirror from both sides")
SET = ("The person lifts a hairbrush to the top of the head", LONG,
       "The brush pulls down through the hair to the ends",
       "The hand returns the hairbrush to the crown and brushes again")


def test_the_long_string_is_over_clips_context_with_the_real_tokenizer():
    [n] = clip_token_counts([LONG])
    assert n > 90 and len(LONG) > 200


def test_keep_truncate_reject_on_a_curated_set():
    cand = Candidate(0, "curated/temporal_phases", "curated", None, None, SET)
    [n] = clip_token_counts([LONG])
    assert apply_on_long(cand, "keep") is cand

    cut = apply_on_long(cand, "truncate")
    assert cut.n_tokens_before_cut == (None, n, None, None)
    assert cut.subtexts[0] == SET[0] and cut.subtexts[2:] == SET[2:]
    assert LONG.startswith(cut.subtexts[1]) and len(cut.subtexts[1]) <= 200
    assert clip_token_counts([cut.subtexts[1]])[0] <= CLIP_CONTEXT
    assert cut.length_rejection is None

    rejected = apply_on_long(cand, "reject")
    assert rejected.subtexts == SET and rejected.length_rejection.startswith(
        f"too long for CLIP: sub-text 1 is {n} CLIP tokens (limit 77) and {len(LONG)} "
        "characters (limit 200), 'The person reaches up with the right han'…; on_long: reject")
    # Scoring records that reason for the set, before any embedding is needed.
    [scored] = score_class("brush hair", None, [(0, rejected)], {}, 4, TPPConfig())
    assert scored.rejected_reason == rejected.length_rejection and scored.tpp is None


@contextlib.contextmanager
def curated_with_long_subtext(root: Path) -> Iterator[None]:
    """The project's data folder with brush_hair's temporal_phases sub-text 1 made LONG."""
    data = root / "data"
    shutil.copytree(REPO_ROOT / "data", data)
    path = data / "curated" / "hmdb51.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert rows[0]["class"] == "brush_hair"
    phases = next(c for c in rows[0]["candidates"] if c["perspective"] == "temporal_phases")
    phases["subtexts"][1] = LONG
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with data_folder(data):
        yield


@pytest.mark.parametrize("on_long", ["keep", "truncate", "reject"])
def test_the_config_key_applies_to_curated_text_in_a_build(on_long, tmp_path):
    from tests.corpus.conftest import build_curated_bundle

    with curated_with_long_subtext(tmp_path):
        out = build_curated_bundle(tmp_path / "b" / "hmdb51", classes=1, on_long=on_long)
    rows = [r for r in pq.read_table(out / "subtexts.parquet").to_pylist()
            if r["source"] == "curated/temporal_phases"]
    counts = json.loads((out / "manifest.json").read_text())["counts"]
    [n] = clip_token_counts([LONG])
    long = rows[1]
    if on_long == "keep":
        assert (long["text"], long["n_tokens"], long["truncated"]) == (LONG, n, True)
        assert long["n_tokens_before_cut"] is None and counts["subtexts_truncated"] == 1
    elif on_long == "truncate":
        assert LONG.startswith(long["text"]) and long["text"] != LONG
        assert long["n_tokens"] <= CLIP_CONTEXT and not long["truncated"]
        assert long["n_tokens_before_cut"] == n and counts["subtexts_cut"] == 1
        assert all(r["n_tokens_before_cut"] is None for r in rows if r is not long)
    else:
        assert all(r["rejected_reason"].startswith("too long for CLIP: sub-text 1 is")
                   for r in rows)
        assert counts["sets_rejected_long"] == 1 and counts["classes_ok"] == 1


def test_an_import_without_its_own_on_long_follows_the_config():
    from corpus.classes import load_class_list
    from corpus.prompts import load_prompt_set
    from corpus.sources import make_sources

    quirks = str(REPO_ROOT / "tests" / "data" / "imports" / "cupl_ucf101_quirks.json")
    ucf = load_class_list("ucf101")
    prompts = load_prompt_set("subtexts-v1")
    cfg = CorpusConfig(on_long="reject", curated="never", embedded_llm="never",
                       imports=[{"path": quirks}])
    with pytest.raises(SubtextError, match=r"cupl_ucf101_quirks.json: 1 description\(s\) "
                       r"over 77 CLIP tokens"):
        make_sources(cfg, ucf, [], prompts)
    keep = CorpusConfig(on_long="reject", curated="never", embedded_llm="never",
                        imports=[{"path": quirks, "on_long": "keep"}])  # the override wins
    assert make_sources(keep, ucf, [], prompts).subtexts
