"""Reading and verifying a bundle built by the real corpus pipeline."""

import json
import shutil

import pytest

from model.bundle import load_bundle
from model.clip import clip_for_encoder_entry, create_clip, state_dict_sha256
from model.errors import LearnerError
from model.heads.text import ClassTexts


def test_bundle_reads_classes_subtexts_and_word_embeddings(bundle_dir):
    bundle = load_bundle(bundle_dir)
    assert bundle.encoder["model"] == "subtext-tiny" and bundle.random_weights
    assert bundle.class_names[:2] == ["moving_left", "moving_right"]
    first = bundle.classes[0]
    assert first.pooled.shape == (128,) and first.words.shape[1] == 128
    assert len(first.subtext_words) == 4 and all(s.shape[1] == 128 for s in first.subtext_words)
    # The pooled embedding is the EOT row, the last of the stored word rows.
    assert (first.words[-1] == first.pooled).all()
    text = ClassTexts.from_bundle(bundle)
    assert text.subwords.shape[:2] == (10, 4)


def test_visual_encoder_weights_match_the_manifest(bundle_dir):
    entry = load_bundle(bundle_dir).encoder
    model = clip_for_encoder_entry(entry)
    assert state_dict_sha256(model.state_dict()) == entry["weights_sha256"]
    other = dict(entry, seed=1)
    with pytest.raises(LearnerError, match="weights differ from the bundle's text encoder"):
        clip_for_encoder_entry(other)


def test_weights_hash_is_key_order_and_value_sensitive():
    a = create_clip("subtext-tiny", "random", 0).state_dict()
    assert state_dict_sha256(a) == state_dict_sha256(create_clip("subtext-tiny", "random",
                                                                 0).state_dict())
    reordered = dict(reversed(list(a.items())))
    assert state_dict_sha256(reordered) != state_dict_sha256(a)


def test_tampered_file_is_refused_naming_it(bundle_dir, tmp_path):
    copy = tmp_path / "bundle"
    shutil.copytree(bundle_dir, copy)
    target = copy / "subtexts.parquet"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(LearnerError, match=r"subtexts\.parquet: sha256 .* does not match"):
        load_bundle(copy)


def test_schema_version_and_missing_manifest_are_refused(bundle_dir, tmp_path):
    copy = tmp_path / "bundle"
    shutil.copytree(bundle_dir, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    (copy / "manifest.json").write_text(json.dumps(manifest | {"schema_version": 99}))
    with pytest.raises(LearnerError, match="schema_version 99"):
        load_bundle(copy)
    with pytest.raises(LearnerError, match=r"no manifest\.json"):
        load_bundle(tmp_path)
