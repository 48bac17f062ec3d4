"""Word-sense accuracy on real bundle cases, description coverage and the entity stage's
speed.

    python -m bench.wsd_bench [--eval tests/data/wsd_eval.jsonl] [--datasets ...]
                              [--speed-dataset kinetics400] [--out bench/results/wsd.json]
                              [--held-out-measurements N]
                              [--tuning-only [--grid]] [--speed-only]

`--speed-only` re-times the entity stage and replaces only the `speed` part of --out.
`--speed-dataset ''` skips the speed part and keeps the earlier run's (marked
`from_an_earlier_run`). `--tuning-only` is for tuning: the held-out cases are dropped
before anything is scored (not even counted), speed and coverage are skipped, the
tuning half's and the written cases' accuracy and errors are printed and nothing is
written; with `--grid` the combined method's weights are searched instead (WEIGHT_GRID,
best settings by tuning accuracy, then the written cases). Errors are listed for the
tuning half and the written cases only; the held-out half's are counted
(`held_out_errors`).

- Accuracy (tests/data/wsd_eval.md says how the cases were drawn and judged): every
  (class, entity) case, phrases included, goes the way the build takes it — the
  WordNet lookup (word spelling or longest compound), the kind (a class-name noun that
  is the class's own action is a motion), the class's context — and the sense chosen
  is compared with the judged one ("none fits" included). Reported for the tuning half
  (where the weights were chosen), the held-out half (never used to choose anything),
  per dataset, single words vs phrases, for Lesk (NLTK), the MiniLM embedding alone and
  the combined default; the older hand-written cases separately.
- Coverage: the entity stage of a curated-only build (curated units and roles, the
  class names, every curated sub-text as context) for each dataset: the share of
  entities and of (class, entity) links with a description, and their sources.
- Speed: that stage on one dataset as a build runs it — TPP has already embedded the
  class texts and sub-texts (timed apart), every gloss is embedded cold (run with an
  empty SUBTEXT_CACHE_DIR) — against a bare spaCy parse of the same sub-texts in the
  same run (the ratio is what to compare across machines).
"""

import argparse
import json
import os
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATASETS = ("hmdb51", "ucf101", "kinetics400")


def case_items(cases: list[dict]) -> tuple[list, list]:
    """(WSD items, index of each case's item or None) as the build makes them."""
    from corpus.entities import class_name_source, normalise_units
    from corpus.entities.entity_corpus import phrase_modifiers, wordnet_lookup
    from corpus.entities.kinds import KIND_POS, MOTIONS, OBJECTS

    labels = sorted({c["class"] for c in cases if c["kind"] is None})
    typed = class_name_source(dict(enumerate(labels)))
    motions = {labels[i]: set(by_kind.get(MOTIONS, [])) for i, by_kind in typed.items()}
    items, index = [], []
    for c in cases:
        kind = c["kind"]
        if kind is None and c["word"] in motions.get(c["class"], ()):
            kind = MOTIONS
        head = normalise_units([c["word"]], kind if kind != MOTIONS else None)[0].head
        match = wordnet_lookup(c["word"], head, len(c["word"].split()))
        if match is None or not match.holds_head:
            index.append(None)
            continue
        pos = c.get("pos") or KIND_POS.get(kind or OBJECTS, "n")
        index.append(len(items))
        items.append((match.lemma, c["context"], pos, kind, phrase_modifiers(match, c["word"])))
    return items, index


def evaluate(cases: list[dict]) -> dict:
    from corpus.entities import wsd

    started = time.perf_counter()
    items, index = case_items(cases)
    scores = wsd.score_many(items, all_senses=True)
    seconds = time.perf_counter() - started
    result: dict = {"cases": len(cases), "combined_weights": wsd.COMBINED_WEIGHTS,
                    "default_method": wsd.DEFAULT_METHOD, "accuracy": {}, "errors": {}}
    groups: dict[str, list[int]] = defaultdict(list)
    for i, c in enumerate(cases):
        if c["origin"] == "written":
            groups["written"].append(i)
            continue
        phrase = "phrases" if len(c["word"].split()) > 1 else "single_words"
        for g in (c["half"], f"{c['half']}/{c['dataset']}", f"{c['half']}/{phrase}", "drawn"):
            groups[g].append(i)
        if c["half"] == "tuning":  # the first draw and the tuning cases drawn later apart
            groups[f"tuning/draw{c.get('draw', 1)}"].append(i)
    for method in wsd.METHODS:
        picks = [None if ix is None else scores[ix].choose(method).synset for ix in index]
        ok = [p == c["synset"] for p, c in zip(picks, cases, strict=True)]
        result["accuracy"][method] = {g: {"accuracy": round(sum(ok[i] for i in ix) / len(ix), 4),
                                          "n": len(ix)} for g, ix in sorted(groups.items())}
        # the held-out half's errors are counted, never listed: a list invites tuning
        # on them
        result["errors"][method] = [
            f"[{c['half']}] {c['class']} / {c['word']}: {c['synset']} -> {p}"
            for p, c, o in zip(picks, cases, ok, strict=True)
            if not o and c["half"] != "held_out"]
        result.setdefault("held_out_errors", {})[method] = sum(
            not o for c, o in zip(cases, ok, strict=True) if c["half"] == "held_out")
    second = [i for i, c in enumerate(cases) if "second_judge" in c]
    if second:  # tuning cases judged again, blind, by another judge (wsd_eval.md)
        picks = [None if index[i] is None else scores[index[i]].choose(wsd.DEFAULT_METHOD).synset
                 for i in second]

        def rate(hits) -> float:
            return round(sum(hits) / len(second), 4)

        result["second_judge"] = {
            "cases": len(second),
            "agreement_with_gold": rate(cases[i]["second_judge"] == cases[i]["synset"]
                                        for i in second),
            "default_method_vs_gold": rate(p == cases[i]["synset"]
                                           for p, i in zip(picks, second, strict=True)),
            "default_method_vs_second_judge": rate(p == cases[i]["second_judge"]
                                                   for p, i in zip(picks, second, strict=True))}
    result["seconds"] = round(seconds, 2)
    return result


def curated_inputs(dataset: str) -> tuple[dict, dict, dict]:
    from corpus.curated import load_curated

    curated = load_curated(dataset)
    labels = {name: name.replace("_", " ") for name in curated.classes}
    raw_units = {name: dict(c.units) | {"roles": list(c.roles)}
                 for name, c in curated.classes.items()}
    contexts = {name: (labels[name], [s for subs in c.candidates.values() for s in subs])
                for name, c in curated.classes.items()}
    return labels, raw_units, contexts


def entity_stage(labels: dict, raw_units: dict, contexts: dict):
    """The entity stage of a build: class names as a source, the entity vocabulary,
    the entity corpus (corpus.knowledge.semantic_knowledge without the ASU units)."""
    from corpus.entities import (
        ENTITY_KINDS,
        build_entity_corpus,
        build_vocabulary,
        class_name_source,
    )
    from corpus.entities.semantic_units import UNKNOWN_KIND

    vocab = build_vocabulary({"curated": raw_units, "class_name": class_name_source(labels)},
                             kinds=(*ENTITY_KINDS, UNKNOWN_KIND))
    return build_entity_corpus(vocab, contexts)


def coverage(dataset: str) -> dict:
    from collections import Counter

    corpus = entity_stage(*curated_inputs(dataset))
    ents, links = corpus.entities, corpus.class_entities
    phrases = [e for e in ents if e.n_words > 1]
    return {"entities": len(ents), "phrases": len(phrases),
            "described": round(sum(bool(e.description) for e in ents) / len(ents), 4),
            "phrases_described": round(sum(bool(e.description) for e in phrases)
                                       / max(len(phrases), 1), 4),
            "links_described": round(sum(bool(c.description) for c in links) / len(links), 4),
            "description_source": dict(Counter(e.description_source for e in ents)),
            "with_synset": sum(e.synset is not None for e in ents),
            "several_senses": sum(len(e.senses) > 1 for e in ents),
            "kinds": dict(Counter(e.kind for e in ents))}


def speed(dataset: str) -> dict:
    from corpus.entities.models import spacy_pipeline

    labels, raw_units, contexts = curated_inputs(dataset)
    sentences = [s for _, texts in contexts.values() for s in texts]
    nlp = spacy_pipeline()
    started = time.perf_counter()
    for _ in nlp.pipe(sentences, batch_size=256):
        pass
    parse_s = time.perf_counter() - started
    # as in a curated-only build: TPP has embedded the class texts and every sub-text
    # with MiniLM (no CLIP configured) before the entity stage runs
    from corpus.encoders import EmbeddingCache
    from corpus.entities.models import sentence_encoder

    started = time.perf_counter()
    EmbeddingCache().embed(sentence_encoder(), [*labels.values(), *sentences], batch_size=64)
    tpp_s = time.perf_counter() - started
    started = time.perf_counter()
    corpus = entity_stage(labels, raw_units, contexts)
    stage_s = time.perf_counter() - started
    return {"dataset": dataset, "classes": len(labels), "sentences": len(sentences),
            "entities": len(corpus.entities), "wsd_items": corpus.stats["wsd_items"],
            "entity_stage_s": round(stage_s, 2), "spacy_parse_s": round(parse_s, 2),
            "tpp_embedding_before_stage_s": round(tpp_s, 2),
            "ratio_to_spacy_parse": round(stage_s / parse_s, 1),
            "cold": _cache_empty_at_start}


def _cache_is_empty() -> bool:
    from corpus.paths import cache_dir

    root = cache_dir()
    return not root.exists() or not any(root.rglob("*"))


_cache_empty_at_start = False


# The weight grid searched on the tuning half (--tuning-only --grid).
WEIGHT_GRID = {"prior": (0.06, 0.08, 0.10, 0.12, 0.15, 0.20),
               "kind": (0.10, 0.12, 0.15, 0.20, 0.25, 0.30),
               "domain": (0.0, 0.05, 0.10, 0.15, 0.20, 0.30),
               "compound": (0.0, 0.10, 0.15, 0.20, 0.25),
               "part": (0.0, 0.10, 0.15, 0.20, 0.25, 0.30),
               "derivation": (0.0, 0.10, 0.15, 0.20)}


def grid_search(cases: list[dict], top: int = 25) -> list[tuple[float, float, dict]]:
    """(tuning accuracy, written accuracy, weights) of the combined method for every
    setting of WEIGHT_GRID, best first (tuning, then written)."""
    import itertools

    from corpus.entities import wsd

    items, index = case_items(cases)
    scores = wsd.score_many(items)
    halves = {h: [i for i, c in enumerate(cases) if c["half"] == h]
              for h in ("tuning", "written")}
    rows = []
    for values in itertools.product(*WEIGHT_GRID.values()):
        weights = dict(zip(WEIGHT_GRID, values, strict=True))
        picks = [None if ix is None else scores[ix].choose("combined", weights).synset
                 for ix in index]
        ok = [p == c["synset"] for p, c in zip(picks, cases, strict=True)]
        acc = {h: sum(ok[i] for i in ix) / max(len(ix), 1) for h, ix in halves.items()}
        rows.append((round(acc["tuning"], 4), round(acc["written"], 4), weights))
    rows.sort(key=lambda r: (-r[0], -r[1]))
    return rows[:top]


def _print_accuracy(accuracy: dict, by_dataset: bool) -> None:
    """A line per method: accuracy and count per group (per half; `by_dataset` adds the
    'half/dataset' and 'half/phrases'-style groups)."""
    for method, acc in accuracy.items():
        print(f"{method:10s} " + "  ".join(f"{g} {a['accuracy']:.3f} ({a['n']})"
                                          for g, a in acc.items() if by_dataset or "/" not in g))


def tuning_only(path: Path, grid: bool = False) -> None:
    """The tuning half and the written cases scored, their errors printed (or, with
    `grid`, the best weight settings); the held-out cases are dropped before scoring,
    so nothing about them is computed."""
    cases = [c for line in path.read_text().splitlines() if line
             if (c := json.loads(line))["half"] != "held_out"]
    if grid:
        for tuning, written, weights in grid_search(cases):
            print(f"tuning {tuning:.3f}  written {written:.3f}  {weights}")
        return
    result = evaluate(cases)
    _print_accuracy(result["accuracy"], by_dataset=True)
    if "second_judge" in result:
        print(f"second judge: {json.dumps(result['second_judge'])}")
    print("\n".join(result["errors"][result["default_method"]]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--eval", default=str(REPO / "tests/data/wsd_eval.jsonl"))
    ap.add_argument("--datasets", nargs="*", default=list(DATASETS))
    ap.add_argument("--speed-dataset", default="kinetics400")
    ap.add_argument("--out", default=str(REPO / "bench/results/wsd.json"))
    ap.add_argument("--held-out-measurements", type=int, default=None,
                    help="how many times the held-out half was scored in this tuning "
                         "round, this run included (recorded as given)")
    ap.add_argument("--tuning-only", action="store_true",
                    help="score the tuning half and the written cases only (the held-out "
                         "half is never scored), print them with their errors, write nothing")
    ap.add_argument("--grid", action="store_true",
                    help="with --tuning-only: the combined method's accuracy on the tuning "
                         "half for every setting of WEIGHT_GRID, best first")
    ap.add_argument("--speed-only", action="store_true",
                    help="time the entity stage only and replace the speed part of --out "
                         "(nothing is scored, so re-timing never re-scores the held-out half)")
    args = ap.parse_args()
    if args.tuning_only:
        tuning_only(Path(args.eval), args.grid)
        return

    global _cache_empty_at_start
    _cache_empty_at_start = _cache_is_empty()
    started = time.perf_counter()
    from corpus.entities.models import sentence_encoder, spacy_pipeline, wordnet

    wordnet(), spacy_pipeline(), sentence_encoder()
    results: dict = {"cpu_count": os.cpu_count(),
                     "load_models_s": round(time.perf_counter() - started, 2)}
    out = Path(args.out)
    if args.speed_only:
        previous = json.loads(out.read_text()) if out.exists() else {}
        results = {**previous, **results, "speed": speed(args.speed_dataset)}
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2) + "\n")
        print(json.dumps(results["speed"], indent=2))
        return
    if args.speed_dataset:  # first: nothing embedded yet in this process
        results["speed"] = speed(args.speed_dataset)
    elif out.exists() and "speed" in (previous := json.loads(out.read_text())):
        # --speed-dataset '': the speed part of the earlier run is kept, marked so
        results["speed"] = {**previous["speed"], "from_an_earlier_run": True}
    cases = [json.loads(line) for line in Path(args.eval).read_text().splitlines() if line]
    results["eval"] = evaluate(cases)
    if args.held_out_measurements is not None:
        results["eval"]["held_out_measurements_this_round"] = args.held_out_measurements
    results["coverage"] = {d: coverage(d) for d in args.datasets}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    _print_accuracy(results["eval"]["accuracy"], by_dataset=False)
    for d, c in results["coverage"].items():
        print(f"{d}: {c['entities']} entities, described {c['described']:.1%}")
    if "speed" in results:
        s = results["speed"]
        print(f"entity stage {s['dataset']}: {s['entity_stage_s']} s "
              f"({s['ratio_to_spacy_parse']}x a bare spaCy parse); written to {out}")


if __name__ == "__main__":
    main()
