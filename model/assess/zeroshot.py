"""Training-free zero-shot of a bundle's text sources on frozen video features.

    python -m model.assess.zeroshot --features CACHE_OR_NPZ --bundle B [--bundle B2 …] --out DIR
    subtext eval zeroshot …          (the same command)

For every bundle: the class names, the prompt-template ensemble, every source's sets (set
alone and class text + set), the TPP-selected set and all valid candidates pooled; for
every source its controls over `--seeds` seeds. Metrics are the zero-shot protocol's
(model.protocols): full-class top-1/top-5 and half-class top-1 (seeds 0–9). Writes
assessment.json, report.md and plots into DIR (docs/assess.md).
"""

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from contract.templates import zeroshot_templates
from model.assess.correlation import correlation, within_class
from model.assess.variants import (
    derangement,
    random_characters,
    random_words,
    scores,
    set_embedding,
    source_matrix,
    template_matrix,
    unit,
)
from model.assess.videos import Videos, load_videos
from model.bundle import TextEmbeddings, load_text_embeddings
from model.errors import LearnerError
from model.protocols import PROTOCOLS

PROTOCOL = "zero-shot"
CONTROLS = ("random_words", "random_characters", "shuffled")
# A source shows class-specific signal when its set beats its shuffled control by more
# than the control's spread (2σ over seeds) and than one video's worth of accuracy.
Encode = Callable[[list[str]], np.ndarray]


@dataclass
class SourceSets:
    """One source's valid sets in one bundle: class index -> (ĝ, TPP, texts)."""

    name: str
    kind: str
    vecs: dict[int, np.ndarray]
    tpp: dict[int, float]
    texts: dict[int, list[str]]


def load_templates(name: str = "zeroshot-templates") -> list[str]:
    try:
        return zeroshot_templates(name)
    except ValueError as err:
        raise LearnerError(str(err)) from None


def sources_of(text: TextEmbeddings) -> list[SourceSets]:
    """Every source's sets; a source of class-text augmentations (one sentence per class)
    is one too: its `set` variant uses the sentence as the class text, `class+set` adds it
    to the class text, and it has no TPP."""
    out: dict[str, SourceSets] = {}
    for s in text.sets:
        src = out.setdefault(s.source, SourceSets(s.source, s.source_kind, {}, {}, {}))
        src.vecs[s.class_id] = set_embedding(s.pooled)
        if s.tpp is not None:
            src.tpp[s.class_id] = s.tpp
        src.texts[s.class_id] = s.texts
    return [out[k] for k in sorted(out)]


def selected_and_pooled(text: TextEmbeddings) -> tuple[dict, dict]:
    selected = {s.class_id: set_embedding(s.pooled) for s in text.sets if s.selected}
    pooled: dict[int, list[np.ndarray]] = {}
    for s in text.sets:
        if s.tpp is None:  # a class-text augmentation is no candidate set
            continue
        pooled.setdefault(s.class_id, []).append(s.pooled)
    return selected, {c: set_embedding(np.concatenate(p)) for c, p in pooled.items()}


def evaluate(videos: Videos, matrix: np.ndarray, names: list[str]) -> dict:
    return PROTOCOLS[PROTOCOL].metrics(scores(videos.embeddings, matrix), videos.labels, names)


def summary_row(metrics: dict) -> dict:
    return {"top1": metrics["top1"], "top5": metrics["top5"],
            "half_class_top1": {k: metrics["half_class_top1"][k] for k in ("mean", "std")}}


def control_row(per_seed: list[dict]) -> dict:
    """Mean ± std over seeds of a control's metrics."""
    def ms(values):
        return {"mean": float(np.mean(values)), "std": float(np.std(values))}
    return {"top1": ms([m["top1"] for m in per_seed]), "top5": ms([m["top5"] for m in per_seed]),
            "half_class_top1": ms([m["half_class_top1"]["mean"] for m in per_seed]),
            "seeds": len(per_seed)}


def control_sets(src: SourceSets, kind: str, seed: int, encode: Encode | None,
                 vocabulary: list[str]) -> dict[int, np.ndarray] | None:
    """The source's sets replaced by a control's, for one seed; None when the control needs
    the text encoder and there is none."""
    rng = np.random.default_rng(seed)
    classes = sorted(src.vecs)
    if kind == "shuffled":
        if len(classes) < 2:
            return None
        perm = derangement(len(classes), rng)
        return {c: src.vecs[classes[p]] for c, p in zip(classes, perm, strict=True)}
    if encode is None:
        return None
    strings, owner = [], []
    for c in classes:
        texts = src.texts[c]
        made = (random_words(texts, vocabulary, rng) if kind == "random_words"
                else random_characters(texts, rng))
        strings += made
        owner += [c] * len(made)
    emb = encode(strings)
    owner_arr = np.array(owner)
    return {c: set_embedding(emb[owner_arr == c]) for c in classes}


def flags(source: dict, videos: int) -> list[str]:
    """Why a source's text is not doing what text should (docs/assess.md, "Flags")."""
    out = []
    for variant, control, flag in (("set", "shuffled", "no class-specific signal"),
                                   ("class+set", "random_words", "no gain over random words")):
        ctrl = source["controls"].get(f"{control}:{variant}")
        if ctrl is None:
            continue
        margin = max(2 * ctrl["top1"]["std"], 1 / videos)
        if source[variant]["top1"] <= ctrl["top1"]["mean"] + margin:
            out.append(flag)
    if source["class+set"]["top1"] < source["baseline_top1"]:
        out.append("below the class names")
    return out


DELTA_PERCENTILES = (5, 25, 50, 75, 95)


def per_class_deltas(metrics: dict, base: dict, top: int = 10) -> dict:
    acc, ref = metrics["per_class_accuracy"], base["per_class_accuracy"]
    deltas = {c: acc[c] - ref[c] for c in acc if acc[c] is not None and ref[c] is not None}
    ordered = sorted(deltas.items(), key=lambda kv: kv[1])
    return {"gains": [{"class": c, "delta": d, "accuracy": acc[c], "class_name_accuracy": ref[c]}
                      for c, d in reversed(ordered[-top:]) if d > 0],
            "losses": [{"class": c, "delta": d, "accuracy": acc[c], "class_name_accuracy": ref[c]}
                       for c, d in ordered[:top] if d < 0],
            "improved": sum(d > 0 for d in deltas.values()),
            "worsened": sum(d < 0 for d in deltas.values()),
            "unchanged": sum(d == 0 for d in deltas.values()),
            # The spread of the change, not only its extremes: is a gain broad or a few classes?
            "percentiles": ({str(p): float(v) for p, v in zip(
                DELTA_PERCENTILES, np.percentile(list(deltas.values()), DELTA_PERCENTILES),
                strict=True)} if deltas else {})}


def assess_bundle(label: str, text: TextEmbeddings, videos: Videos, encode: Encode | None,
                  templates: list[str], vocabulary: list[str], seeds: int) -> dict:
    names = text.names
    n_classes = len(names)
    class_emb = text.class_pooled
    base = evaluate(videos, unit(class_emb), names)
    baselines = {"class name": summary_row(base)}
    if encode is not None:
        filled = encode([t.format(label_) for label_ in text.labels for t in templates])
        matrix = template_matrix(filled.reshape(n_classes, len(templates), -1))
        baselines["templates"] = summary_row(evaluate(videos, matrix, names))
    selected, pooled = selected_and_pooled(text)
    pooled_variants = {}
    for name, vecs in (("selected (TPP)", selected), ("all candidates", pooled)):
        pooled_variants[name] = {
            variant: summary_row(evaluate(videos, source_matrix(class_emb, vecs, add), names))
            for variant, add in (("set", False), ("class+set", True))
        } | {"coverage": len(vecs) / n_classes}
    sources = []
    for src in sources_of(text):
        row = {"bundle": label, "source": src.name, "source_kind": src.kind,
               "coverage": len(src.vecs) / n_classes, "classes": len(src.vecs),
               "mean_tpp": float(np.mean(list(src.tpp.values()))) if src.tpp else None,
               "baseline_top1": base["top1"], "controls": {}}
        full = {}
        for variant, add in (("set", False), ("class+set", True)):
            full[variant] = evaluate(videos, source_matrix(class_emb, src.vecs, add), names)
            row[variant] = summary_row(full[variant])
        for kind in CONTROLS:
            per_seed: dict[str, list[dict]] = {"set": [], "class+set": []}
            for seed in range(seeds):
                vecs = control_sets(src, kind, seed, encode, vocabulary)
                if vecs is None:
                    break
                for variant, add in (("set", False), ("class+set", True)):
                    per_seed[variant].append(
                        evaluate(videos, source_matrix(class_emb, vecs, add), names))
            for variant, runs in per_seed.items():
                if runs:
                    row["controls"][f"{kind}:{variant}"] = control_row(runs)
        row["flags"] = flags(row, len(videos.labels))
        row["per_class"] = per_class_deltas(full["class+set"], base)
        acc = full["class+set"]["per_class_accuracy"]
        ref = base["per_class_accuracy"]
        points = [(src.tpp[c], acc[names[c]] - ref[names[c]]) for c in src.tpp
                  if acc[names[c]] is not None and ref[names[c]] is not None]
        row["tpp_vs_gain_across_classes"] = correlation(*zip(*points, strict=True)) if points \
            else correlation([], [])
        row["per_class_accuracy"] = acc
        row["tpp_by_class"] = {names[c]: t for c, t in sorted(src.tpp.items())}
        sources.append(row)
    return {"bundle": label, "path": str(text.root), "encoder": text.encoder["id"],
            "weights": text.encoder.get("weights"), "classes": n_classes,
            "baselines": baselines, "pooled": pooled_variants, "sources": sources,
            "class_name_per_class_accuracy": base["per_class_accuracy"]}


def tpp_analysis(bundles: list[dict], names: list[str]) -> dict:
    """TPP against accuracy across sources, and within classes across sources' sets."""
    sources = [s for b in bundles for s in b["sources"] if s["mean_tpp"] is not None]
    across = {variant: correlation([s["mean_tpp"] for s in sources],
                                   [s[variant]["top1"] for s in sources])
              for variant in ("set", "class+set")}
    index = {n: i for i, n in enumerate(names)}
    points = [(index[c], tpp, s["per_class_accuracy"][c]) for s in sources
              for c, tpp in s["tpp_by_class"].items() if s["per_class_accuracy"][c] is not None]
    return {"across_sources": across, "within_classes": within_class(points),
            "sources": len(sources),
            "note": "TPP values compare only within one TPP encoder (the bundle records it)"}


def clip_text_encoder(encoder: dict, checkpoint: str | None) -> tuple[Encode, list[str]]:
    """Encode new strings (templates, controls) with the bundle's own CLIP text tower, and
    the CLIP BPE vocabulary's whole words for the random-word control."""
    import open_clip

    from contract.clip import pooled_text_embeddings, register_clip_configs
    from model.clip import clip_for_encoder_entry

    if not encoder.get("library", "").startswith("open_clip"):
        raise LearnerError(f"encoder {encoder['id']!r} is not an open_clip model; templates "
                           f"and random-text controls need one (or pass --no-encoder)")
    model = clip_for_encoder_entry(encoder, checkpoint)
    register_clip_configs()
    tokenizer = open_clip.get_tokenizer(encoder["model"])
    words = getattr(tokenizer, "encoder", {})
    vocabulary = sorted(w[:-4] for w in words if w.endswith("</w>") and w[:-4].isalpha()
                        and len(w) >= 7)  # whole words of at least 3 letters
    return (lambda texts: pooled_text_embeddings(model, tokenizer, texts)), vocabulary


def check_encoder(encode: Encode, text: TextEmbeddings) -> None:
    """The rebuilt text tower must reproduce the bundle's stored class embeddings."""
    probe = text.texts[:4]
    mine = unit(encode(probe))
    cos = (mine * unit(text.class_pooled[:len(probe)])).sum(-1)
    if cos.min() < 0.999:
        raise LearnerError(f"{text.root}: the text encoder rebuilt from the manifest does not "
                           f"reproduce the bundle's class embeddings (cosine {cos.min():.4f}); "
                           f"pass the weights it was built with (--checkpoint)")


def assess(features: str, bundle_dirs: list[str], out: str, encoder_id: str | None = None,
           seeds: int = 5, checkpoint: str | None = None, use_encoder: bool = True) -> dict:
    from model.assess.report import write_outputs

    if seeds < 1:
        raise LearnerError("--seeds must be at least 1")
    texts = [load_text_embeddings(b, encoder_id) for b in bundle_dirs]
    first = texts[0]
    for t in texts[1:]:
        if t.names != first.names:
            raise LearnerError(f"{t.root}: its classes differ from {first.root}'s; assess "
                               f"bundles of the same class list together")
        if t.encoder["weights_sha256"] != first.encoder["weights_sha256"]:
            raise LearnerError(f"{t.root}: encoder {t.encoder['id']} is not {first.root}'s "
                               f"{first.encoder['id']}; videos share a space with one only")
    videos = load_videos(features, first.encoder, first.names)
    if videos.embeddings.shape[1] != int(first.encoder["dim"]):
        raise LearnerError(f"{features}: dimension {videos.embeddings.shape[1]} != encoder "
                           f"{first.encoder['id']}'s {first.encoder['dim']}")
    encode, vocabulary, encoder_note = None, [], "not used (--no-encoder)"
    if use_encoder:
        encode, vocabulary = clip_text_encoder(first.encoder, checkpoint)
        for t in texts:
            check_encoder(encode, t)
        encoder_note = f"{first.encoder['id']} text tower (checked against the bundle)"
    labels = unique_labels(texts)
    templates = load_templates()
    results = [assess_bundle(label, t, videos, encode, templates, vocabulary, seeds)
               for label, t in zip(labels, texts, strict=True)]
    report = {
        "protocol": PROTOCOL, "protocol_description": PROTOCOLS[PROTOCOL].description,
        "features": videos.origin, "videos": len(videos.labels),
        "classes": len(first.names), "chance_top1": 1 / len(first.names),
        "encoder": {k: first.encoder.get(k) for k in ("id", "model", "pretrained", "weights",
                                                       "weights_sha256")},
        "text_encoder_for_new_strings": encoder_note, "control_seeds": seeds,
        "templates": templates if encode is not None else [],
        "bundles": results, "tpp": tpp_analysis(results, first.names),
    }
    write_outputs(report, Path(out))
    return report


def unique_labels(texts: list[TextEmbeddings]) -> list[str]:
    labels = [t.root.name for t in texts]
    if len(set(labels)) < len(labels):
        labels = [f"{i}:{t.root.name}" for i, t in enumerate(texts)]
    return labels


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--features", required=True,
                   help="a feature cache directory or a features.npz file")
    p.add_argument("--bundle", action="append", required=True,
                   help="a bundle (repeat to compare bundles of the same class list)")
    p.add_argument("-o", "--out", required=True, help="output directory")
    p.add_argument("--encoder", default=None,
                   help="the bundle encoder whose space the features are in (default: the "
                        "first open_clip encoder)")
    p.add_argument("--seeds", type=int, default=5, help="seeds per control (default 5)")
    p.add_argument("--checkpoint", default=None,
                   help="local CLIP weights, when the manifest names a tag this machine lacks")
    p.add_argument("--no-encoder", action="store_true",
                   help="do not load the text encoder: no templates, no random-text controls")


def run(args: argparse.Namespace, runner: Callable[..., dict] = assess) -> int:
    """The command: `runner` is `assess` itself or a wrapper with its signature (the
    Prefect flow, pipelines/zeroshot_flow.py)."""
    report = runner(args.features, args.bundle, args.out, args.encoder, args.seeds,
                    args.checkpoint, not args.no_encoder)
    from model.assess.report import console_summary

    print(console_summary(report))
    print(f"report: {Path(args.out) / 'report.md'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m model.assess.zeroshot",
                                description=__doc__.split("\n")[0])
    add_arguments(p)
    args = p.parse_args(argv)
    try:
        return run(args)
    except LearnerError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
