"""Word-sense disambiguation accuracy and entity-corpus throughput.

    python -m bench.wsd_bench [--eval tests/data/wsd_eval.jsonl] [--dataset kinetics400]
                              [--out bench/results/wsd.json]

- Accuracy of Lesk, the MiniLM embedding method and the combined method (the default)
  on the hand-labelled evaluation set, overall, on its dev half (even lines: where
  the combined weights were chosen) and on its held-out half (odd lines), and for the
  combined method without the source kind.
- Entities/s: extraction + normalisation of every unit of the curated file (all
  classes), then WSD of every single-word entity in its classes' contexts; cold
  (every gloss and context embedded by MiniLM) and warm (embeddings in memory: the
  cost of everything else). Run with an empty SUBTEXT_CACHE_DIR for a cold number.
"""

import argparse
import json
import os
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def evaluate(cases: list[dict]) -> dict:
    import numpy as np

    from corpus.entities import wsd

    started = time.perf_counter()
    with_kind = wsd.score_many([(c["word"], c["context"], c["pos"], c.get("kind"))
                                for c in cases])
    without_kind = wsd.score_many([(c["word"], c["context"], c["pos"], None) for c in cases])
    seconds = time.perf_counter() - started
    halves = {"all": range(len(cases)), "dev": range(0, len(cases), 2),
              "held_out": range(1, len(cases), 2)}
    variants = {m: (with_kind, m) for m in wsd.METHODS}
    variants["combined_without_kind"] = (without_kind, "combined")
    result: dict = {"cases": len(cases), "nouns": sum(c["pos"] == "n" for c in cases),
                    "verbs": sum(c["pos"] == "v" for c in cases),
                    "words": len({c["word"] for c in cases}),
                    "default_method": wsd.DEFAULT_METHOD,
                    "combined_weights": wsd.COMBINED_WEIGHTS, "accuracy": {}, "errors": {}}
    for name, (scores, method) in variants.items():
        picks = [s.choose(method).synset for s in scores]
        ok = np.array([p == c["synset"] for p, c in zip(picks, cases, strict=True)])
        result["accuracy"][name] = {h: round(float(ok[list(ix)].mean()), 4)
                                    for h, ix in halves.items()}
        result["errors"][name] = [f"{c['word']}: {c['synset']} -> {p}"
                                  for p, c, o in zip(picks, cases, ok, strict=True) if not o]
    result["seconds"] = round(seconds, 2)
    return result


def throughput(dataset: str) -> dict:
    from corpus.curated import load_curated
    from corpus.entities import (
        ENTITY_KINDS,
        UNIT_KINDS,
        build_entity_corpus,
        build_vocabulary,
        class_name_source,
    )
    from corpus.entities.semantic_units import UNKNOWN_KIND

    curated = load_curated(dataset)
    labels = {name: name for name in curated.classes}
    raw_units = {name: dict(c.units) | {"roles": list(c.roles)}
                 for name, c in curated.classes.items()}
    contexts = {name: (name, [s for subs in c.candidates.values() for s in subs])
                for name, c in curated.classes.items()}
    n_raw = sum(len(v) for c in raw_units.values() for v in c.values())

    started = time.perf_counter()
    names = class_name_source(labels)
    units = build_vocabulary({"curated": raw_units}, kinds=UNIT_KINDS)
    entity_vocab = build_vocabulary({"curated": raw_units, "class_name": names},
                                    kinds=(*ENTITY_KINDS, UNKNOWN_KIND))
    extraction_s = time.perf_counter() - started
    started = time.perf_counter()
    corpus = build_entity_corpus(entity_vocab, contexts)
    wsd_s = time.perf_counter() - started
    started = time.perf_counter()  # again, glosses and contexts now embedded in this process
    build_entity_corpus(entity_vocab, contexts)
    warm_s = time.perf_counter() - started
    total = extraction_s + wsd_s
    return {"dataset": dataset, "classes": len(labels), "raw_units": n_raw,
            "units": len(units.units), "class_units": len(units.class_units),
            "units_by_kind": {k: sum(u.kind == k for u in units.units) for k in UNIT_KINDS},
            "rejected": len(units.rejected) + len(entity_vocab.rejected),
            "entities": corpus.stats, "extraction_s": round(extraction_s, 2),
            "wsd_s": round(wsd_s, 2), "wsd_warm_s": round(warm_s, 2),
            "total_s": round(total, 2), "embedded_texts": _embedded(),
            "raw_units_per_s": round(n_raw / extraction_s, 1),
            "entities_per_s": round(len(corpus.entities) / total, 1),
            "wsd_items_per_s": round(corpus.stats["wsd_items"] / wsd_s, 1)}


def _embedded() -> int:
    from corpus.entities.wsd import _EMBEDDINGS

    return len(_EMBEDDINGS.vectors)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--eval", default=str(REPO / "tests/data/wsd_eval.jsonl"))
    ap.add_argument("--dataset", default="kinetics400")
    ap.add_argument("--out", default=str(REPO / "bench/results/wsd.json"))
    args = ap.parse_args()

    started = time.perf_counter()
    from corpus.entities.models import sentence_encoder, spacy_pipeline, wordnet

    wordnet(), spacy_pipeline(), sentence_encoder()
    load_s = time.perf_counter() - started
    cases = [json.loads(line) for line in Path(args.eval).read_text().splitlines() if line]
    results = {"cpu_count": os.cpu_count(), "load_models_s": round(load_s, 2),
               "eval": evaluate(cases), "throughput": throughput(args.dataset)}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    acc = results["eval"]["accuracy"]
    for name, a in acc.items():
        print(f"{name:24s} all {a['all']:.3f}  dev {a['dev']:.3f}  held-out {a['held_out']:.3f}")
    t = results["throughput"]
    print(f"{t['dataset']}: {t['entities']['entities']} entities, {t['units']} units in "
          f"{t['total_s']} s ({t['entities_per_s']} entities/s); written to {out}")


if __name__ == "__main__":
    main()
