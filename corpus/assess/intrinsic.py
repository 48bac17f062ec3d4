"""Intrinsic, video-free assessment of a bundle's text sources (docs/assess.md).

Reads a verified bundle, embeds its texts with the bundle's own encoders through the one
embedding cache (a bundle's texts were embedded when it was built, so they are cache
hits), and measures every text source: each curated perspective, LLM endpoint × prompt
and imported file, the TPP-selected sets, and the class names in the zero-shot prompt
templates as a baseline. The math is in `corpus.assess.measures`.
"""

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

import contract
from contract.templates import zeroshot_templates
from corpus import store
from corpus.assess import measures
from corpus.config import ClipEncoder
from corpus.encoders import MINILM_ID, EmbeddingCache, TextEncoder, create_encoder
from corpus.errors import BundleError, ConfigError, SubtextError
from corpus.subtexts import is_class_text
from corpus.tables import entity_text
from corpus.verify import verify_bundle

SELECTED = "TPP-selected"
TEMPLATES = "templates (class name)"
# The CLIP tokenizer counted when a bundle names no open_clip model: every OpenAI-style
# CLIP (ViT-B-32, ViT-B-16, ViT-L-14) shares this BPE vocabulary and its 77-token context.
DEFAULT_CLIP_TOKENIZER = "ViT-B-32"
WORST_CONFUSIONS = 10


@dataclass
class TextSet:
    class_id: int
    texts: tuple[str, ...]
    valid: bool
    tpp: float | None = None
    rejected_reason: str | None = None


@dataclass
class TextSource:
    name: str
    kind: str  # curated | llm | import | selected | templates
    sets: list[TextSet] = field(default_factory=list)


@dataclass
class BundleText:
    path: Path
    manifest: dict
    names: list[str]
    labels: list[str]
    class_texts: list[str]
    sources: list[TextSource]
    entities: list[dict]
    units: list[dict]
    class_units: list[dict]
    class_entities: list[dict]


def load_bundle_text(bundle: Path) -> BundleText:
    """A verified bundle's texts, grouped by source; BundleError naming the bundle otherwise."""
    problems = verify_bundle(bundle)
    if problems:
        raise BundleError(f"bundle {bundle} does not verify ({len(problems)} problem(s)), "
                          f"first: {problems[0]}")
    manifest = store.read_manifest(bundle)
    classes = store.read_table(bundle, "classes.parquet").to_pylist()
    rows = store.read_table(bundle, "subtexts.parquet").to_pylist()
    by_candidate: dict[tuple[int, int], list[dict]] = {}
    for r in rows:
        by_candidate.setdefault((r["class_id"], r["candidate_id"]), []).append(r)
    sources: dict[str, TextSource] = {}
    selected = TextSource(SELECTED, "selected")
    for (class_id, _), cand in sorted(by_candidate.items()):
        cand.sort(key=lambda r: r["position"])
        head = cand[0]
        texts = tuple(r["text"] for r in cand)
        # A class-text augmentation (one sentence, never TPP-scored) is valid text too.
        valid = head["tpp"] is not None or is_class_text(head)
        src = sources.setdefault(head["source"], TextSource(head["source"], head["source_kind"]))
        src.sets.append(TextSet(class_id, texts, valid, head["tpp"], head["rejected_reason"]))
        if head["selected"]:
            selected.sets.append(TextSet(class_id, texts, True, head["tpp"]))
    labels = [c["label"] for c in classes]
    try:
        templates = zeroshot_templates()
    except ValueError as err:
        raise ConfigError(str(err)) from None
    baseline = TextSource(TEMPLATES, "templates", [
        TextSet(c, tuple(t.format(label) for t in templates), True)
        for c, label in enumerate(labels)])
    return BundleText(
        bundle, manifest, [c["name"] for c in classes], labels, [c["text"] for c in classes],
        [*(sources[k] for k in sorted(sources)), selected, baseline],
        store.read_table(bundle, "entities.parquet").to_pylist(),
        store.read_table(bundle, "units.parquet").to_pylist(),
        store.read_table(bundle, "class_units.parquet").to_pylist(),
        store.read_table(bundle, "class_entities.parquet").to_pylist())


# -- encoders and tokenizers ------------------------------------------------------------

def bundle_encoders(manifest: dict) -> tuple[list[TextEncoder], list[dict]]:
    """The TPP encoder and every CLIP encoder of the bundle with real weights, each checked
    against the weights the bundle was embedded with; the ones left out, with why."""
    tpp_id = manifest["tpp"]["encoder"]
    entries = {e["id"]: e for e in manifest["encoders"]}
    wanted = [tpp_id] + [i for i, e in entries.items() if i != tpp_id and e["weights"] == "real"]
    encoders, skipped = [], []
    for encoder_id in wanted:
        entry = entries.get(encoder_id)
        try:
            if encoder_id == MINILM_ID:
                encoder = create_encoder("minilm")
            elif entry is None or not entry.get("model"):
                raise ConfigError("the manifest does not say how to rebuild it")
            else:
                encoder = create_encoder(ClipEncoder(model=entry["model"],
                                                     pretrained=entry["pretrained"],
                                                     seed=entry.get("seed") or 0))
        except ConfigError as err:
            skipped.append({"id": encoder_id, "reason": str(err)})
            continue
        if entry is not None and entry["weights_sha256"] != encoder.weights_sha256:
            raise BundleError(
                f"encoder {encoder_id}: this machine's weights ({encoder.weights_sha256[:12]}) "
                f"are not the ones the bundle was embedded with ({entry['weights_sha256'][:12]})")
        encoders.append(encoder)
    if not encoders:
        raise SubtextError("no encoder of the bundle could be loaded: "
                           + "; ".join(f"{s['id']}: {s['reason']}" for s in skipped))
    return encoders, skipped


TokenCounter = Callable[[list[str]], list[int]]


def clip_token_counter(model_name: str) -> tuple[str, TokenCounter, int]:
    """open_clip's tokenizer for a model: BPE tokens plus start- and end-of-text."""
    import open_clip

    from contract.clip import register_clip_configs

    register_clip_configs()
    tokenizer = open_clip.get_tokenizer(model_name)
    if not hasattr(tokenizer, "encoder"):  # a Hugging Face tokenizer wrapper
        inner = tokenizer.tokenizer
        return (f"open_clip {model_name}",
                lambda texts: [len(ids) for ids in inner(texts)["input_ids"]],
                int(tokenizer.context_length))
    return (f"open_clip {model_name}",
            lambda texts: [len(tokenizer.encode(t)) + 2 for t in texts],
            int(tokenizer.context_length))


def minilm_token_counter(encoder: TextEncoder) -> tuple[str, TokenCounter, int]:
    return ("MiniLM (WordPiece)",
            lambda texts: encoder.count_tokens(texts) if texts else [],
            int(encoder.context_length))


def token_counters(manifest: dict, encoders: list[TextEncoder]) -> list[tuple]:
    clip_models = sorted({e["model"] for e in manifest["encoders"]
                          if e.get("tokens") and e.get("model")}) or [DEFAULT_CLIP_TOKENIZER]
    counters = []
    for name in clip_models:
        try:
            counters.append(clip_token_counter(name))
        except (RuntimeError, OSError, ValueError, KeyError):
            counters.append(clip_token_counter(DEFAULT_CLIP_TOKENIZER))
    counters += [minilm_token_counter(e) for e in encoders if e.id == MINILM_ID]
    return list({c[0]: c for c in counters}.values())


# -- the assessment ---------------------------------------------------------------------

def all_texts(text: BundleText) -> list[str]:
    texts = list(text.class_texts)
    texts += [t for src in text.sources for s in src.sets for t in s.texts]
    return list(dict.fromkeys(texts))


def _retrieval(src: TextSource, vec: dict[str, np.ndarray], class_vecs: np.ndarray,
               names: list[str]) -> dict:
    valid = [s for s in src.sets if s.valid]
    if not valid:
        return {"n": 0, "top1": None, "top5": None, "set_top1": None, "confusable_classes": 0,
                "worst_confusions": []}
    sub = np.stack([vec[t] for s in valid for t in s.texts])
    own = np.array([s.class_id for s in valid for _ in s.texts])
    ranks = measures.retrieval_ranks(sub, own, class_vecs)
    set_vecs = np.stack([measures.set_vector(np.stack([vec[t] for t in s.texts]))
                         for s in valid])
    set_ranks = measures.retrieval_ranks(set_vecs, np.array([s.class_id for s in valid]),
                                         class_vecs)
    # One direction per class (the mean of the source's sets for it): which classes'
    # text sits nearer another class's name than its own.
    per_class: dict[int, list[np.ndarray]] = {}
    for s, g in zip(valid, set_vecs, strict=True):
        per_class.setdefault(s.class_id, []).append(g)
    cls = sorted(per_class)
    conf = measures.confusions(np.stack([measures.unit(np.mean(per_class[c], axis=0))
                                         for c in cls]), np.array(cls), class_vecs)
    return {
        "n": len(ranks),
        **{f"top{k}": measures.top_k_accuracy(ranks, k) for k in measures.TOP_K},
        "set_top1": measures.top_k_accuracy(set_ranks, 1),
        "confusable_classes": len(conf),
        "worst_confusions": [{"class": names[a], "nearer_to": names[b], "margin": round(m, 4)}
                             for a, b, m in conf[:WORST_CONFUSIONS]],
    }


def _text_quality(src: TextSource, text: BundleText, vec: dict[str, np.ndarray],
                  cosine: float, reference: list[str]) -> dict:
    echo, dup = [], []
    for s in src.sets:
        vecs = np.stack([vec[t] for t in s.texts])
        ref = measures.unit(vec[reference[s.class_id]]) @ measures.unit(
            vec[text.class_texts[s.class_id]])
        echo.append(measures.echoes(list(s.texts), text.labels[s.class_id], vecs,
                                    vec[text.class_texts[s.class_id]], ref))
        dup.append(measures.near_duplicates(list(s.texts), vecs, cosine))
    echo_all = np.concatenate(echo) if echo else np.zeros(0, bool)
    dup_all = np.concatenate(dup) if dup else np.zeros(0, bool)
    return {"echo_rate": float(echo_all.mean()) if len(echo_all) else None,
            "near_duplicate_rate": float(dup_all.mean()) if len(dup_all) else None}


def _coverage(src: TextSource, names: list[str]) -> dict:
    covered = {s.class_id for s in src.sets if s.valid}
    missing = [names[c] for c in range(len(names)) if c not in covered]
    return {"classes": len(covered), "of": len(names), "rate": len(covered) / len(names),
            "missing": missing[:20], "n_missing": len(missing)}


def _knowledge(text: BundleText, counters: list[tuple], template: str) -> dict:
    n = len(text.names)
    with_units = {r["class_id"] for r in text.class_units}
    with_entities = {r["class_id"] for r in text.class_entities}
    undescribed = [e["text"] for e in text.entities if not e["description"]]
    entity_strings = [entity_text(template, e) for e in text.entities]
    return {
        "units": len(text.units),
        "classes_without_units": [text.names[c] for c in range(n) if c not in with_units],
        "entities": len(text.entities),
        "entities_without_description": len(undescribed),
        "entities_without_description_examples": sorted(undescribed)[:20],
        "entities_needing_description": sum(bool(e["needs_description"]) for e in text.entities),
        "classes_without_entities": [text.names[c] for c in range(n) if c not in with_entities],
        "entity_tokens": {name: measures.token_stats(count(entity_strings), ctx)
                          for name, count, ctx in counters},
    }


def assess(bundle: Path, cache: EmbeddingCache | None = None,
           progress: Callable[[str], None] | None = None) -> dict:
    """Every intrinsic measure of every text source of `bundle`, as one JSON-ready dict."""
    say = progress or (lambda _: None)
    text = load_bundle_text(bundle)
    manifest = text.manifest
    cache = cache or EmbeddingCache()
    encoders, skipped = bundle_encoders(manifest)
    reference = next(src for src in text.sources if src.kind == "templates")
    first_template = [s.texts[0] for s in reference.sets]
    strings = all_texts(text)
    vectors: dict[str, dict[str, np.ndarray]] = {}
    hits = misses = 0
    for encoder in encoders:
        say(f"embedding {len(strings)} distinct strings with {encoder.id}")
        before = (cache.hits, cache.misses)
        found = cache.embed(encoder, strings,
                            batch_size=manifest["config"].get("embed_batch_size", 64))
        hits, misses = hits + cache.hits - before[0], misses + cache.misses - before[1]
        vectors[encoder.id] = {t: e.pooled for t, e in found.items()}
    counters = token_counters(manifest, encoders)
    tpp_id = encoders[0].id
    cosine = manifest["tpp"]["near_duplicate_cosine"]
    sources = []
    for src in text.sources:
        say(f"measuring {src.name}")
        strings_of = [t for s in src.sets for t in s.texts]
        reasons = Counter((s.rejected_reason or "").split(" (")[0]
                          for s in src.sets if not s.valid)
        tpps = [s.tpp for s in src.sets if s.valid and s.tpp is not None]
        row = {
            "source": src.name, "kind": src.kind,
            "sets": len(src.sets), "valid_sets": sum(s.valid for s in src.sets),
            "subtexts": len(strings_of),
            "coverage": _coverage(src, text.names),
            "retrieval": {e.id: _retrieval(src, vectors[e.id], np.stack(
                [vectors[e.id][t] for t in text.class_texts]), text.names) for e in encoders},
            **_text_quality(src, text, vectors[tpp_id], cosine, first_template),
            "tokens": {name: measures.token_stats(count(strings_of), ctx)
                       for name, count, ctx in counters},
            "rejected": dict(sorted(reasons.items())),
            "mean_tpp": float(np.mean(tpps)) if tpps and src.kind != "templates" else None,
        }
        sources.append(row)
    n = len(text.names)
    return {
        "kind": "intrinsic",
        "bundle": str(bundle),
        "dataset": manifest["dataset"]["name"],
        "classes": n,
        "class_names": text.names,
        "inputs_sha256": manifest.get("inputs_sha256"),
        "manifest_sha256": contract.file_sha256(bundle / contract.MANIFEST),
        "assessed_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "tpp_encoder": tpp_id,
        "encoders": [{k: e.describe()[k] for k in ("id", "weights", "dim", "context_length")}
                     for e in encoders],
        "skipped_encoders": skipped,
        "near_duplicate_cosine": cosine,
        "echo_reference_template": zeroshot_templates()[0],
        "chance": {"top1": 1 / n, "top5": min(5, n) / n},
        "token_limits": {name: ctx for name, _, ctx in counters},
        "embedding_cache": {"hits": hits, "misses": misses},
        "sources": sources,
        "knowledge": _knowledge(text, counters, manifest["config"]["entity_template"]),
    }


COMPARED = ("top1", "top5", "set_top1")


def class_mismatch(a: list[str], b: list[str]) -> str | None:
    """Where two class lists first differ, or None when they are the same."""
    if a == b:
        return None
    return next((f"class {i}: {x!r} vs {y!r}" for i, (x, y) in
                 enumerate(zip(a, b, strict=False)) if x != y),
                f"{len(a)} vs {len(b)} classes")


def check_same_classes(a: Path, b: Path) -> None:
    """Before any work: `--against` needs the same classes in the same order."""
    names = []
    for path in (a, b):
        store.read_manifest(path)  # one clear line for a directory that is not a bundle
        names.append(store.read_table(path, "classes.parquet").column("name").to_pylist())
    diff = class_mismatch(*names)
    if diff:
        raise SubtextError(f"bundles {a} and {b} do not have the same classes ({diff}); "
                           "--against needs the same class list")


def compare(a: dict, b: dict) -> dict:
    """Two assessments of bundles of the same classes, source by source."""
    diff = class_mismatch(a["class_names"], b["class_names"])
    if diff:
        raise SubtextError(f"bundles {a['bundle']} and {b['bundle']} do not have the same "
                           f"classes ({diff}); --against needs the same class list")
    shared = [e["id"] for e in a["encoders"] if e["id"] in {x["id"] for x in b["encoders"]}]
    rows_a = {s["source"]: s for s in a["sources"]}
    rows_b = {s["source"]: s for s in b["sources"]}
    rows = []
    for name in list(dict.fromkeys([*rows_a, *rows_b])):
        sa, sb = rows_a.get(name), rows_b.get(name)
        row = {"source": name, "in": "both" if sa and sb else ("a" if sa else "b")}
        for enc in shared:
            for metric in COMPARED:
                va = sa["retrieval"][enc][metric] if sa else None
                vb = sb["retrieval"][enc][metric] if sb else None
                row[f"{enc}:{metric}"] = {"a": va, "b": vb, "delta": None if va is None or
                                          vb is None else vb - va}
        for metric in ("echo_rate", "near_duplicate_rate"):
            va, vb = (sa or {}).get(metric), (sb or {}).get(metric)
            row[metric] = {"a": va, "b": vb,
                           "delta": None if va is None or vb is None else vb - va}
        cov = [s["coverage"]["rate"] if s else None for s in (sa, sb)]
        row["coverage"] = {"a": cov[0], "b": cov[1],
                           "delta": None if None in cov else cov[1] - cov[0]}
        rows.append(row)
    return {"a": a["bundle"], "b": b["bundle"], "encoders": shared, "sources": rows}
