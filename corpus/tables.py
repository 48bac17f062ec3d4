"""A build's results as the contract's Arrow tables (schemas: the `contract` package)."""

from collections.abc import Callable

import pyarrow as pa

import contract
from corpus.config import CorpusConfig
from corpus.encoders import EmbeddingCache, Encoded, TextEncoder, create_encoder
from corpus.entities import EntityCorpus, Vocabulary
from corpus.selection import ScoredClass
from corpus.subtexts import SHORT, TOO_LONG, is_class_text
from corpus.tokens import CLIP_CONTEXT, clip_token_counts


def classes_table(scored: list[ScoredClass]) -> pa.Table:
    rows = []
    for s in scored:
        sel = s.selected
        rows.append({
            "class_id": s.action.class_id, "name": s.action.name, "label": s.action.label,
            "text": s.text, "status": "ok" if sel else "failed",
            "selected_candidate": sel.candidate_id if sel else None,
        })
    return pa.Table.from_pylist(rows, schema=contract.CLASSES_SCHEMA)


def subtexts_table(scored: list[ScoredClass]) -> pa.Table:
    texts = sorted({t for s in scored for cand in s.scored for t in cand.candidate.subtexts})
    n_tokens = dict(zip(texts, clip_token_counts(texts), strict=True))
    rows = []
    for s in scored:
        for cand in s.scored:
            c = cand.candidate
            for position, text in enumerate(c.subtexts):
                rows.append({
                    "class_id": s.action.class_id, "candidate_id": cand.candidate_id,
                    "source": c.source, "source_kind": c.source_kind, "model": c.model,
                    "prompt_id": c.prompt_id, "position": position, "text": text,
                    "sigma": None if cand.sigma is None else float(cand.sigma[position]),
                    "delta": None if cand.delta is None else float(cand.delta[position]),
                    "tpp": cand.tpp, "selected": cand.selected,
                    "rejected_reason": cand.rejected_reason,
                    "n_tokens": n_tokens[text], "truncated": n_tokens[text] > CLIP_CONTEXT,
                    "set_kind": c.set_kind,
                    "n_tokens_before_cut": (c.n_tokens_before_cut[position]
                                            if c.n_tokens_before_cut else None),
                })
    return pa.Table.from_pylist(rows, schema=contract.SUBTEXTS_SCHEMA)


def failures_table(scored: list[ScoredClass]) -> pa.Table:
    rows = [f.__dict__ for s in scored for f in s.failures]
    return pa.Table.from_pylist(rows, schema=contract.FAILURES_SCHEMA)


def knowledge_tables(units: Vocabulary, entities: EntityCorpus) -> dict[str, pa.Table]:
    return {
        "units.parquet": pa.Table.from_pylist(units.unit_rows(), schema=contract.UNITS_SCHEMA),
        "class_units.parquet": pa.Table.from_pylist(units.class_unit_rows(),
                                                    schema=contract.CLASS_UNITS_SCHEMA),
        "entities.parquet": pa.Table.from_pylist(entities.entity_rows(),
                                                 schema=contract.ENTITIES_SCHEMA),
        "class_entities.parquet": pa.Table.from_pylist(entities.class_entity_rows(),
                                                       schema=contract.CLASS_ENTITIES_SCHEMA),
        "unit_rejections.parquet": pa.Table.from_pylist(
            units.rejected_rows(), schema=contract.UNIT_REJECTIONS_SCHEMA),
    }


def text_tables(scored: list[ScoredClass], units: Vocabulary,
                entities: EntityCorpus) -> dict[str, pa.Table]:
    """Every table of the contract but the embeddings."""
    return {"classes.parquet": classes_table(scored),
            "subtexts.parquet": subtexts_table(scored),
            "failures.parquet": failures_table(scored),
            **knowledge_tables(units, entities)}


def entity_text(template: str, entity: dict) -> str:
    """How an entity is embedded (docs/methods.md §5): `entity_template`, or the bare entity
    when it has no description."""
    if not entity["description"]:
        return entity["text"]
    return template.format(entity=entity["text"], description=entity["description"])


def embedding_rows(tables: dict[str, pa.Table], entity_template: str) -> list[dict]:
    """What an encoder embeds: every class text, every scored candidate's sub-texts, every
    semantic unit and entity; word embeddings for class texts, selected sub-texts, units
    and entities (docs/corpus-format.md)."""
    def row(kind, text, tokens, class_id=None, candidate_id=None, position=None, item=None):
        return {"kind": kind, "class_id": class_id, "candidate_id": candidate_id,
                "position": position, "item_id": item, "text": text, "tokens": tokens}

    rows = [row("class", c["text"], True, c["class_id"])
            for c in tables["classes.parquet"].to_pylist()]
    subtexts = tables["subtexts.parquet"].to_pylist()
    rows += [row("subtext", s["text"], s["selected"], s["class_id"], s["candidate_id"],
                 s["position"])
             for s in subtexts if s["tpp"] is not None]
    # A class-text augmentation stands in for the class text, so it gets word embeddings too.
    rows += [row("class_text", s["text"], True, s["class_id"], s["candidate_id"], s["position"])
             for s in subtexts if is_class_text(s)]
    rows += [row("unit", u["text"], True, item=u["unit_id"])
             for u in tables["units.parquet"].to_pylist()]
    rows += [row("entity", entity_text(entity_template, e), True, item=e["entity_id"])
             for e in tables["entities.parquet"].to_pylist()]
    return rows


def embeddings_table(encoder: TextEncoder, rows: list[dict], cache: EmbeddingCache,
                     batch_size: int, progress: Callable[[int], None] | None = None
                     ) -> pa.Table:
    with_tokens = {r["text"] for r in rows if r["tokens"]}
    vectors: dict[str, Encoded] = cache.embed(encoder, [r["text"] for r in rows], with_tokens,
                                              batch_size, progress)
    texts = sorted({r["text"] for r in rows})
    n_tokens = dict(zip(texts, encoder.count_tokens(texts), strict=True))
    out = []
    for r in rows:
        e = vectors[r["text"]]
        keep_tokens = r["tokens"] and e.tokens is not None
        out.append({
            "kind": r["kind"], "class_id": r["class_id"], "candidate_id": r["candidate_id"],
            "position": r["position"], "item_id": r["item_id"], "text": r["text"],
            "pooled": e.pooled.tolist(),
            "tokens": e.tokens.tolist() if keep_tokens else None,
            "token_ids": e.token_ids.tolist() if keep_tokens else None,
            "n_tokens": n_tokens[r["text"]],
            "truncated": n_tokens[r["text"]] > encoder.context_length,
        })
    return pa.Table.from_pylist(out, schema=contract.embeddings_schema(encoder.dim))


def bundle_encoders(cfg: CorpusConfig, tpp: TextEncoder) -> list[TextEncoder]:
    """The TPP encoder and every configured CLIP encoder, each once."""
    encoders = [tpp, *(create_encoder(spec) for spec in cfg.encoders)]
    return list({e.id: e for e in encoders}.values())


def counts(tables: dict[str, pa.Table]) -> dict:
    classes, subtexts = tables["classes.parquet"], tables["subtexts.parquet"]
    status = classes.column("status").to_pylist()
    rows = subtexts.to_pylist()
    # One entry per candidate: sets differ in size, so rows // n would miscount.
    candidates = {(r["class_id"], r["candidate_id"]): r for r in rows}.values()
    valid = [c for c in candidates if c["tpp"] is not None]
    return {
        "units": tables["units.parquet"].num_rows,
        "entities": tables["entities.parquet"].num_rows,
        "classes": len(status),
        "classes_ok": status.count("ok"),
        "classes_failed": status.count("failed"),
        "candidates": len(candidates),
        "candidates_valid": len(valid),
        "short_sets_valid": sum(c["set_kind"] == SHORT for c in valid),
        "short_sets_selected": sum(c["set_kind"] == SHORT and c["selected"] for c in valid),
        "class_text_augmentations": sum(is_class_text(c) for c in candidates),
        "subtexts": len(rows),
        "subtexts_truncated": sum(r["truncated"] for r in rows),
        # config / import `on_long`: sub-texts the pipeline cut to fit, sets it rejected.
        "subtexts_cut": sum(r["n_tokens_before_cut"] is not None for r in rows),
        "sets_rejected_long": sum((c["rejected_reason"] or "").startswith(TOO_LONG)
                                  for c in candidates),
    }
