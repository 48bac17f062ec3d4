"""`subtext corpus embed`: add or replace one encoder's embeddings in an existing bundle,
without regenerating any text (labs use several backbones on the same text)."""

from pathlib import Path

import contract
from corpus import store
from corpus.card import dataset_card
from corpus.config import ClipEncoder
from corpus.encoders import EmbeddingCache, create_encoder
from corpus.errors import BundleError
from corpus.tables import embedding_rows, embeddings_table
from corpus.verify import verify_bundle


def embed_bundle(bundle: Path, spec: ClipEncoder, batch_size: int = 64) -> dict:
    problems = verify_bundle(bundle)
    if problems:
        raise BundleError(f"bundle {bundle} does not verify, not touching it: {problems[0]}")
    with store.bundle_lock(bundle):
        manifest = store.read_manifest(bundle)
        encoder = create_encoder(spec)
        tables = {name: store.read_table(bundle, name) for name in contract.TABLE_SCHEMAS}
        rows = embedding_rows(tables, manifest["config"]["entity_template"])
        table = embeddings_table(encoder, rows, EmbeddingCache(), batch_size)
        info = {**encoder.describe(), "file": contract.embeddings_file(encoder.id)}
        staging = store.stage_copy(bundle)
        target = staging / info["file"]
        if target.exists():
            target.unlink()  # a hard link to the live file: replace, never write through it
        store.write_table(target, table)
        manifest["encoders"] = [e for e in manifest["encoders"] if e["id"] != encoder.id] + [info]
        (staging / contract.CARD).unlink()
        (staging / contract.CARD).write_text(dataset_card(manifest), encoding="utf-8")
        store.commit(staging, bundle, manifest)
    return info
