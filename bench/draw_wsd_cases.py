"""Draw word-sense evaluation cases from real corpus bundles (tests/data/wsd_eval.md).

    python -m bench.draw_wsd_cases BUNDLE_DIR [BUNDLE_DIR ...] [--per-dataset 140]
                                   [--seed 17] [--out cases.jsonl]

Every (class, entity) link of each bundle's class_entities.parquet is a candidate case,
with its context as the build gives it (entity_corpus.wsd_context: the class label and
every sub-text of the class, any candidate set, that mentions the entity) and the first
such sentence (none when no sub-text mentions it: roles and class-name nouns often). A fixed
number of links per dataset is drawn with a fixed seed — single words and phrases
alike, in the proportion the bundle has them. The output has no gold sense: the senses
are judged afterwards, by reading every candidate gloss (tests/data/wsd_eval.md says
who judged them).
"""

import argparse
import json
import random
from pathlib import Path

import pyarrow.parquet as pq

from corpus.entities.entity_corpus import mentioning_sentences, wsd_context


def draw(bundle: Path, n: int, seed: int) -> list[dict]:
    dataset = json.loads((bundle / "manifest.json").read_text())["dataset"]["name"]
    classes = {r["class_id"]: r for r in pq.read_table(bundle / "classes.parquet").to_pylist()}
    entities = {r["entity_id"]: r for r in pq.read_table(bundle / "entities.parquet").to_pylist()}
    sentences: dict[int, list[str]] = {}
    for s in sorted(pq.read_table(bundle / "subtexts.parquet").to_pylist(),
                    key=lambda s: (s["class_id"], not s["selected"], s["candidate_id"],
                                   s["position"])):
        sentences.setdefault(s["class_id"], []).append(s["text"])
    links = sorted((r["class_id"], r["entity_id"]) for r in
                   pq.read_table(bundle / "class_entities.parquet").to_pylist())
    picked = random.Random(seed).sample(links, min(n, len(links)))
    cases = []
    for class_id, entity_id in picked:
        e, c = entities[entity_id], classes[class_id]
        label = c["label"] or c["name"]
        mention = mentioning_sentences(sentences.get(class_id, []), e["text"])
        cases.append({"dataset": dataset, "class": label, "word": e["text"],
                      "kind": e["source_kind"], "sentence": mention[0] if mention else None,
                      "context": wsd_context(label, sentences.get(class_id, []), e["text"])})
    return cases


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("bundles", nargs="+", type=Path)
    ap.add_argument("--per-dataset", type=int, default=140)
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--out", type=Path, default=Path("cases.jsonl"))
    args = ap.parse_args()
    rows = [c for b in args.bundles for c in draw(b, args.per_dataset, args.seed)]
    args.out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    print(f"{len(rows)} cases from {len(args.bundles)} bundles written to {args.out}")


if __name__ == "__main__":
    main()
