"""End to end: the real embedded llama.cpp server, Prefect, MiniLM and open_clip build a
bundle that independent Parquet readers read and `verify` guards."""

import json
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pytest

from corpus.config import ClipEncoder
from corpus.encoders import create_encoder
from corpus.verify import verify_bundle
from tests.corpus.conftest import EMBEDDED_ALWAYS, run_cli

pytestmark = pytest.mark.slow


@pytest.fixture
def copy_of(bundle, tmp_path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(bundle, target)
    return target


def manifest(path: Path) -> dict:
    return json.loads((path / "manifest.json").read_text())


def test_bundle_verifies(bundle):
    assert verify_bundle(bundle) == []
    assert "is intact" in run_cli("corpus", "verify", str(bundle)).stdout


def test_independent_readers_see_the_selected_sets(bundle):
    n = manifest(bundle)["n_subtexts"]
    rows = duckdb.sql(f"select class_id, count(*) as n from '{bundle}/subtexts.parquet' "
                      "where selected group by class_id order by class_id").fetchall()
    assert rows == [(0, n), (1, n), (2, n)]
    classes = pl.read_parquet(bundle / "classes.parquet")
    assert classes["name"].to_list() == ["brush_hair", "cartwheel", "catch"]
    sub = pd.read_parquet(bundle / "subtexts.parquet")
    assert set(sub["source_kind"]) == {"curated", "llm"}
    assert sub.loc[sub.tpp.isna(), "rejected_reason"].notna().all()


def test_hugging_face_datasets_reads_the_bundle_through_its_card(bundle):
    import datasets

    by_card = datasets.load_dataset(str(bundle), "subtexts")["train"]
    by_files = datasets.load_dataset("parquet",
                                     data_files=str(bundle / "classes.parquet"))["train"]
    assert by_card.num_rows == pd.read_parquet(bundle / "subtexts.parquet").shape[0]
    assert by_files["name"] == ["brush_hair", "cartwheel", "catch"]


def test_every_source_and_encoder_is_recorded_honestly(bundle):
    m = manifest(bundle)
    kinds = {s["kind"] for s in m["sources"]}
    assert kinds == {"curated", "llm"}
    llm = next(s for s in m["sources"] if s["kind"] == "llm")
    assert llm["endpoint"]["embedded"] and llm["endpoint"]["embedded_server"]["model_sha256"]
    assert llm["prompt_sha256"] == m["prompts"]["sha256"]
    encoders = {e["id"]: e for e in m["encoders"]}
    assert encoders["minilm-l6-v2"]["weights"] == "real"
    tiny = encoders["open_clip-subtext-tiny-random-seed0"]
    assert tiny["weights"] == "random" and tiny["tokens"] and tiny["dim"] == 128
    assert m["tpp"]["encoder"] == "minilm-l6-v2"
    assert "weights **random**" in (bundle / "README.md").read_text()
    for f in m["files"]:
        assert m["files"][f]["sha256"]


def test_llm_subtexts_record_their_clip_token_counts(bundle):
    """SmolLM2's sub-texts get `n_tokens` (the real open_clip tokenizer's count) and
    `truncated` like curated and imported ones; each encoder's file has its own count."""
    from corpus.tokens import clip_token_counts

    rows = pd.read_parquet(bundle / "subtexts.parquet")
    llm = rows[rows.source_kind == "llm"]
    assert len(llm) and llm.n_tokens.notna().all() and llm.truncated.notna().all()
    assert llm.n_tokens.tolist() == clip_token_counts(llm.text.tolist())
    assert (llm.truncated == (llm.n_tokens > 77)).all()
    assert set(llm.set_kind) == {"full"} and llm.n_tokens_before_cut.isna().all()
    m = manifest(bundle)
    assert m["counts"]["subtexts_truncated"] == int(rows.truncated.sum())
    for encoder in m["encoders"]:
        emb = pd.read_parquet(bundle / encoder["file"])
        scored = emb[emb.kind == "subtext"]
        assert len(scored) and scored.n_tokens.notna().all() and scored.truncated.notna().all()


def test_word_embeddings_match_the_pooled_clip_embedding(bundle):
    table = pd.read_parquet(bundle / "embeddings/open_clip-subtext-tiny-random-seed0.parquet")
    row = table[table.kind == "class"].iloc[0]
    tokens = np.stack(row.tokens)
    assert row.token_ids[0] == 49406 and row.token_ids[-1] == 49407  # SOT .. EOT, no padding
    np.testing.assert_allclose(tokens[-1], row.pooled, rtol=1e-5)
    enc = create_encoder(ClipEncoder(model="subtext-tiny", pretrained="random", seed=0))
    import torch

    with torch.inference_mode():
        ref = enc.model.encode_text(enc.tokenizer([row.text]))[0].numpy()
    np.testing.assert_allclose(row.pooled, ref, rtol=1e-4, atol=1e-5)


def test_rerun_is_up_to_date_and_a_forced_rebuild_makes_no_llm_call(bundle):
    args = ["corpus", "build", "--dataset", "hmdb51", "--classes", "3", "--out", str(bundle),
            "--config", EMBEDDED_ALWAYS, "--clip", "subtext-tiny", "--pretrained", "random"]
    assert "up to date" in run_cli(*args).stdout
    before = pd.read_parquet(bundle / "subtexts.parquet")
    out = run_cli(*args, "--force").stdout
    assert "LLM calls: 0 made" in out
    usage = manifest(bundle)["run"]["llm_usage"]["embedded"]
    assert usage["requests"] == 0 and usage["cache_hits"] > 0
    pd.testing.assert_frame_equal(before, pd.read_parquet(bundle / "subtexts.parquet"))


def test_verify_catches_a_tampered_file(copy_of):
    path = copy_of / "classes.parquet"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    result = run_cli("corpus", "verify", str(copy_of), check=False)
    assert result.returncode == 1
    assert "classes.parquet: sha256 does not match" in result.stderr


def test_verify_catches_a_truncated_parquet(copy_of):
    path = copy_of / "subtexts.parquet"
    path.write_bytes(path.read_bytes()[:100])
    problems = verify_bundle(copy_of)
    assert any("subtexts.parquet" in p and "truncated" in p for p in problems)


def test_verify_catches_missing_and_extra_files(copy_of):
    (copy_of / "failures.parquet").unlink()
    (copy_of / "notes.txt").write_text("hi")
    problems = verify_bundle(copy_of)
    assert "failures.parquet: listed in the manifest but missing" in problems
    assert "notes.txt: not listed in the manifest" in problems


def test_a_directory_without_manifest_is_not_a_bundle(tmp_path):
    result = run_cli("corpus", "verify", str(tmp_path), check=False)
    assert result.returncode == 1 and "no manifest.json" in result.stderr


def test_embed_adds_an_encoder_without_touching_the_text(copy_of):
    before = (copy_of / "subtexts.parquet").read_bytes()
    out = run_cli("corpus", "embed", str(copy_of), "--clip", "subtext-tiny",
                  "--pretrained", "random", "--seed", "1").stdout
    assert "random weights" in out
    assert verify_bundle(copy_of) == []
    ids = [e["id"] for e in manifest(copy_of)["encoders"]]
    assert "open_clip-subtext-tiny-random-seed1" in ids and len(ids) == 3
    assert (copy_of / "subtexts.parquet").read_bytes() == before


def test_bad_input_gets_one_clear_line(tmp_path):
    result = run_cli("corpus", "build", "--dataset", "hmdb52", "--out", str(tmp_path / "x"),
                     check=False)
    assert result.returncode == 2
    assert result.stderr.startswith("error: unknown dataset 'hmdb52'")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "x").exists()


def test_a_second_writer_is_refused_with_a_lock_message(bundle):
    from corpus.errors import BundleError
    from corpus.store import bundle_lock

    with (bundle_lock(bundle), pytest.raises(BundleError, match="is being written by pid"),
          bundle_lock(bundle)):
        pass


def test_verify_refuses_manifest_paths_outside_the_bundle(copy_of):
    manifest = json.loads((copy_of / "manifest.json").read_text())
    manifest["files"]["../../etc/passwd"] = {"sha256": "0" * 64, "bytes": 1, "rows": None}
    (copy_of / "manifest.json").write_text(json.dumps(manifest))
    assert verify_bundle(copy_of) == ["../../etc/passwd: manifest path leaves the bundle"]


def test_units_come_in_four_kinds_and_entities_carry_wordnet_senses(bundle):
    from nltk.corpus import wordnet as wn

    kinds = {k for (k,) in duckdb.sql(f"select distinct kind from '{bundle}/units.parquet'")
             .fetchall()}
    assert kinds == {"body_parts", "objects", "scenes", "motions"}
    links = pd.read_parquet(bundle / "class_units.parquet")
    assert set(links.class_id) == {0, 1, 2}
    entities = pd.read_parquet(bundle / "entities.parquet")
    single = entities[entities.n_words == 1]
    assert single.synset.notna().mean() > 0.8
    for row in single.dropna(subset=["synset"]).itertuples():
        assert row.description == wn.synset(row.synset).definition()
        assert row.wsd_method and 0 <= row.wsd_confidence <= 1
    assert {"hand", "head"} <= set(entities.text)  # generic body parts are always there
    assert entities.description.notna().all()  # every entity described, offline
    assert set(entities.description_source) <= {"wordnet_gloss", "wordnet_compound",
                                                 "composed", "curated"}
    class_entities = pd.read_parquet(bundle / "class_entities.parquet")
    assert class_entities.description.notna().all()
    sources = {s for ss in pd.read_parquet(bundle / "units.parquet").sources for s in ss}
    assert "curated/units" in sources
    emb = pd.read_parquet(bundle / "embeddings/open_clip-subtext-tiny-random-seed0.parquet")
    assert set(emb[emb.kind == "entity"].item_id) == set(entities.entity_id)


def test_show_prints_a_class_with_its_units_and_entities(bundle):
    out = run_cli("corpus", "show", str(bundle), "--class", "brush_hair").stdout
    assert out.startswith("0: brush_hair") and "curated/temporal_phases" in out
    assert "semantic units:" in out and "entities:" in out and "hair" in out
