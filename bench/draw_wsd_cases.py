"""Draw word-sense evaluation cases from real corpus bundles (tests/data/wsd_eval.md).

    python -m bench.draw_wsd_cases BUNDLE_DIR [BUNDLE_DIR ...] [--per-dataset 140]
                                   [--seed 17] [--out cases.jsonl]
                                   [--exclude tests/data/wsd_eval.jsonl] [--half tuning]

Every (class, entity) link of each bundle's class_entities.parquet is a candidate case,
with its context as the build gives it (entity_corpus.wsd_context: the class label and
every sub-text of the class, any candidate set, that mentions the entity) and the first
such sentence (none when no sub-text mentions it: roles and class-name nouns often). A fixed
number of links per dataset is drawn with a fixed seed — single words and phrases
alike, in the proportion the bundle has them. The output has no gold sense: the senses
are judged afterwards, by reading every candidate gloss (tests/data/wsd_eval.md says
who judged them).

`--exclude` leaves out the (dataset, class, entity) keys of an existing evaluation file,
and `--half tuning` keeps only links whose key the evaluation's fixed hash puts in the
tuning half: that is how a tuning half is grown without drawing a case the held-out
half could hold.
"""

import argparse
import hashlib
import json
import random
from pathlib import Path

import pyarrow.parquet as pq

from corpus.entities.entity_corpus import mentioning_sentences, wsd_context


def split_half(dataset: str, label: str, word: str) -> str:
    """The evaluation's fixed split: sha256("dataset|class|word") even -> tuning."""
    key = f"{dataset}|{label}|{word}".encode()
    return "tuning" if int(hashlib.sha256(key).hexdigest(), 16) % 2 == 0 else "held_out"


def draw(bundle: Path, n: int, seed: int, exclude: frozenset = frozenset(),
         half: str | None = None) -> list[dict]:
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

    def key(link: tuple) -> tuple[str, str, str]:
        c = classes[link[0]]
        return dataset, c["label"] or c["name"], entities[link[1]]["text"]

    links = [link for link in links if key(link) not in exclude
             and (half is None or split_half(*key(link)) == half)]
    picked = random.Random(seed).sample(links, min(n, len(links)))
    cases = []
    for class_id, entity_id in picked:
        e, c = entities[entity_id], classes[class_id]
        label = c["label"] or c["name"]
        mention = mentioning_sentences(sentences.get(class_id, []), e["text"])
        cases.append({"dataset": dataset, "class": label, "word": e["text"],
                      "kind": e["source_kind"], "sentence": mention[0] if mention else None,
                      "context": wsd_context(label, sentences.get(class_id, []), e["text"]),
                      "half": split_half(dataset, label, e["text"])})
    return cases


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("bundles", nargs="+", type=Path)
    ap.add_argument("--per-dataset", type=int, default=140)
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--out", type=Path, default=Path("cases.jsonl"))
    ap.add_argument("--exclude", type=Path, help="an evaluation file whose cases not to draw")
    ap.add_argument("--half", choices=("tuning", "held_out"),
                    help="draw only links the evaluation's hash puts in this half")
    args = ap.parse_args()
    exclude = frozenset()
    if args.exclude:
        exclude = frozenset((c["dataset"], c["class"], c["word"]) for line in
                            args.exclude.read_text().splitlines() if line
                            for c in [json.loads(line)])
    rows = [c for b in args.bundles
            for c in draw(b, args.per_dataset, args.seed, exclude, args.half)]
    args.out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    print(f"{len(rows)} cases from {len(args.bundles)} bundles written to {args.out}")


if __name__ == "__main__":
    main()
