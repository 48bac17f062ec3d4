"""Reading a corpus bundle (the `contract` package; docs/corpus-format.md) and verifying it.

Every file the learner reads is checked against the manifest's sha256 before use; the
learner trusts nothing else about the bundle and never imports the pipeline.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

import contract
from model.errors import LearnerError


@dataclass
class ClassText:
    """What the heads know about one class, as float32 arrays in CLIP's joint space."""

    class_id: int
    name: str
    text: str
    pooled: np.ndarray  # (D,) global text embedding t_c
    words: np.ndarray  # (W, D) word embeddings T_c
    subtexts: list[str] = field(default_factory=list)
    subtext_words: list[np.ndarray] = field(default_factory=list)  # N × (W_n, D): S_c,n
    # Per selected sub-text: its length in the chosen encoder's tokenizer and whether the
    # encoder cut it (embeddings `n_tokens` / `truncated`; None in bundles made before them).
    subtext_n_tokens: list[int | None] = field(default_factory=list)
    subtext_truncated: list[bool | None] = field(default_factory=list)
    # The selected set's `set_kind`: "full", or "short" when a source had fewer than N
    # descriptions for the class (None when failed, or in bundles made before the column).
    set_kind: str | None = None
    # Class-text augmentations: one sentence a source gives for the class instead of a set
    # (FROSTER's rephrased class), usable in place of `text`; source id -> (text, pooled, words).
    augmentations: dict[str, tuple[str, np.ndarray, np.ndarray]] = field(default_factory=dict)


@dataclass
class KnowledgeItem:
    """One semantic unit (ASU) or entity (ALT): one shared vocabulary for the action set."""

    item_id: str  # units.unit_id / entities.entity_id
    text: str  # the embedded text (for entities: `entity_template` applied)
    kind: str  # body_parts, objects, scenes, motions (units); objects, body parts, … (entities)
    pooled: np.ndarray | None  # (D,); None when the encoder's file has no row for the item


@dataclass
class Knowledge:
    """The bundle's units or entities and which class produced which (class_units /
    class_entities). `table` is None when the bundle has no such table at all."""

    table: str  # "units" or "entities"
    items: list[KnowledgeItem] = field(default_factory=list)
    class_links: list[tuple[int, str, float]] = field(default_factory=list)  # class, item, score
    present: bool = False  # the tables are listed in the manifest
    # entities only: (class_id, entity_id) -> (synset or None, description) chosen in that
    # class's own context (class_entities.synset / .description)
    class_senses: dict[tuple[int, str], tuple[str | None, str]] = field(default_factory=dict)


@dataclass
class Bundle:
    root: Path
    manifest: dict
    encoder: dict  # the manifest's entry for the encoder whose embeddings are used
    classes: list[ClassText]
    units: Knowledge = field(default_factory=lambda: Knowledge("units"))
    entities: Knowledge = field(default_factory=lambda: Knowledge("entities"))

    @property
    def dim(self) -> int:
        return int(self.encoder["dim"])

    @property
    def class_names(self) -> list[str]:
        return [c.name for c in self.classes]

    @property
    def random_weights(self) -> bool:
        return self.encoder.get("weights") == "random"


def read_manifest(root: Path) -> dict:
    path = root / contract.MANIFEST
    if not path.is_file():
        raise LearnerError(f"{root}: not a corpus bundle (no manifest.json; an incomplete "
                           f"build leaves none)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise LearnerError(f"{path}: not valid JSON ({err})") from None
    problem = contract.check_manifest(manifest)
    if problem:
        raise LearnerError(f"{path}: {problem}")
    return manifest


def verified_path(root: Path, manifest: dict, name: str) -> Path:
    """The bundle file `name`, after checking it against the manifest's sha256."""
    entry = manifest.get("files", {}).get(name)
    if entry is None:
        raise LearnerError(f"{root / 'manifest.json'}: file {name!r} is not listed in `files`")
    path = root / name
    if not path.is_file():
        raise LearnerError(f"{path}: listed in the manifest but missing")
    actual = contract.file_sha256(path)
    if actual != entry["sha256"]:
        raise LearnerError(f"{path}: sha256 {actual} does not match the manifest's "
                           f"{entry['sha256']} — the file was changed after the bundle was "
                           f"built; rebuild the bundle")
    return path


def choose_encoder(manifest: dict, encoder_id: str | None, root: Path) -> dict:
    """The encoder entry whose embeddings the learner reads; an error names the bundle's
    manifest (the file that lists its encoders)."""
    encoders = manifest.get("encoders") or []
    if encoder_id is not None:
        for entry in encoders:
            if entry["id"] == encoder_id:
                return entry
        raise LearnerError(f"{root / 'manifest.json'}: bundle has no encoder {encoder_id!r}; "
                           f"it has {[e['id'] for e in encoders]}")
    # The heads need word embeddings, which only CLIP-style text encoders store.
    usable = [e for e in encoders if e.get("tokens") and e.get("library", "").startswith(
        "open_clip")]
    if not usable:
        raise LearnerError(f"{root / 'manifest.json'}: bundle has no open_clip encoder with "
                           f"word embeddings (encoders: {[e['id'] for e in encoders]}); build "
                           f"it with an open_clip encoder or add one (`subtext corpus embed`)")
    return usable[0]


def _stack(rows) -> np.ndarray:
    return np.asarray([np.asarray(r, dtype=np.float32) for r in rows], dtype=np.float32)


def load_knowledge(root: Path, manifest: dict, emb: list[dict], table: str) -> Knowledge:
    """units + class_units (or entities + class_entities) with the encoder's pooled
    embeddings of kind `unit` (or `entity`), keyed by item_id. Missing tables give an
    empty Knowledge: only the heads that need it (asu, alt) refuse such a bundle."""
    id_column, row_kind = {"units": ("unit_id", "unit"), "entities": ("entity_id", "entity")
                           }[table]
    files = manifest.get("files", {})
    if f"{table}.parquet" not in files:
        return Knowledge(table)
    rows = pq.read_table(verified_path(root, manifest, f"{table}.parquet")).to_pylist()
    links, senses = [], {}
    if f"class_{table}.parquet" in files:
        link_rows = pq.read_table(verified_path(root, manifest, f"class_{table}.parquet")
                                  ).to_pylist()
        links = [(int(r["class_id"]), r[id_column], float(r["score"] or 0.0))
                 for r in link_rows]
        senses = {(int(r["class_id"]), r[id_column]): (r["synset"], r["description"])
                  for r in link_rows if r.get("description") is not None}
    pooled = {r["item_id"]: r for r in emb if r["kind"] == row_kind}
    items = []
    for r in sorted(rows, key=lambda r: r[id_column]):  # sorted: a stable vocabulary order
        e = pooled.get(r[id_column])
        items.append(KnowledgeItem(r[id_column], e["text"] if e else r["text"], r["kind"],
                                   None if e is None else np.asarray(e["pooled"],
                                                                     dtype=np.float32)))
    return Knowledge(table, items, links, present=True, class_senses=senses)


def load_bundle(root: str | Path, encoder_id: str | None = None) -> Bundle:
    root = Path(root)
    manifest = read_manifest(root)
    encoder = choose_encoder(manifest, encoder_id, root)
    emb_name = encoder.get("file") or contract.embeddings_file(encoder["id"])
    classes = pq.read_table(verified_path(root, manifest, "classes.parquet")).to_pylist()
    subtexts = pq.read_table(verified_path(root, manifest, "subtexts.parquet")).to_pylist()
    emb = pq.read_table(verified_path(root, manifest, emb_name)).to_pylist()

    class_rows = {r["class_id"]: r for r in emb if r["kind"] == "class"}
    sub_rows = {(r["class_id"], r["candidate_id"], r["position"]): r
                for r in emb if r["kind"] == "subtext"}
    aug_rows = {(r["class_id"], r["candidate_id"]): r for r in emb if r["kind"] == "class_text"}
    augmentations: dict[int, list[dict]] = {}
    for s in subtexts:
        if (s["class_id"], s["candidate_id"]) in aug_rows:
            augmentations.setdefault(s["class_id"], []).append(s)
    out = []
    for c in sorted(classes, key=lambda r: r["class_id"]):
        row = class_rows.get(c["class_id"])
        if row is None or row["tokens"] is None:
            raise LearnerError(f"{root / emb_name}: no class embedding with tokens for class "
                               f"{c['class_id']} ({c['name']})")
        ct = ClassText(c["class_id"], c["name"], c["text"],
                       np.asarray(row["pooled"], dtype=np.float32), _stack(row["tokens"]))
        if c["status"] == "ok":
            chosen = sorted((s for s in subtexts if s["class_id"] == c["class_id"]
                             and s["candidate_id"] == c["selected_candidate"]),
                            key=lambda s: s["position"])
            for s in chosen:
                srow = sub_rows.get((s["class_id"], s["candidate_id"], s["position"]))
                if srow is None or srow["tokens"] is None:
                    raise LearnerError(f"{root / emb_name}: selected sub-text {s['position']} "
                                       f"of class {c['name']} has no word embeddings")
                ct.subtexts.append(s["text"])
                ct.subtext_words.append(_stack(srow["tokens"]))
                ct.subtext_n_tokens.append(srow.get("n_tokens"))
                ct.subtext_truncated.append(srow.get("truncated"))
                ct.set_kind = s.get("set_kind", "full")
        for s in augmentations.get(c["class_id"], []):
            arow = aug_rows[(s["class_id"], s["candidate_id"])]
            ct.augmentations[s["source"]] = (s["text"],
                                             np.asarray(arow["pooled"], dtype=np.float32),
                                             _stack(arow["tokens"] or [arow["pooled"]]))
        out.append(ct)
    dims = {c.pooled.shape[0] for c in out}
    if dims != {int(encoder["dim"])}:
        raise LearnerError(f"{root / emb_name}: embedding dims {dims} != manifest dim "
                           f"{encoder['dim']}")
    return Bundle(root, manifest, encoder, out, load_knowledge(root, manifest, emb, "units"),
                  load_knowledge(root, manifest, emb, "entities"))


@dataclass
class CandidateSet:
    """One valid (scored) candidate set of a class, with its pooled sub-text embeddings."""

    class_id: int
    candidate_id: int
    source: str
    source_kind: str
    tpp: float | None  # None for a class-text augmentation (never scored)
    selected: bool
    texts: list[str]
    pooled: np.ndarray  # (N, D)
    set_kind: str = "full"  # "full", "short" (fewer than N) or "class_text" (one sentence)


@dataclass
class TextEmbeddings:
    """A bundle's pooled text embeddings by one encoder, for training-free scoring: every
    class text and every valid candidate set (no word embeddings, so it loads fast)."""

    root: Path
    manifest: dict
    encoder: dict
    names: list[str]  # class names, by class_id
    labels: list[str]  # plain-English labels
    texts: list[str]  # the embedded class texts (class_template applied)
    class_pooled: np.ndarray  # (C, D)
    sets: list[CandidateSet]

    @property
    def sources(self) -> list[str]:
        return sorted({s.source for s in self.sets})


def load_text_embeddings(root: str | Path, encoder_id: str | None = None) -> TextEmbeddings:
    root = Path(root)
    manifest = read_manifest(root)
    encoder = choose_encoder(manifest, encoder_id, root)
    emb_name = encoder.get("file") or contract.embeddings_file(encoder["id"])
    classes = sorted(pq.read_table(verified_path(root, manifest, "classes.parquet")).to_pylist(),
                     key=lambda r: r["class_id"])
    subtexts = pq.read_table(verified_path(root, manifest, "subtexts.parquet"),
                             columns=None).to_pylist()
    emb = pq.read_table(verified_path(root, manifest, emb_name),
                        columns=["kind", "class_id", "candidate_id", "position", "pooled"])
    kinds = emb.column("kind").to_pylist()
    keys = zip(kinds, emb.column("class_id").to_pylist(), emb.column("candidate_id").to_pylist(),
               emb.column("position").to_pylist(), strict=True)
    pooled = emb.column("pooled").combine_chunks().flatten().to_numpy().reshape(
        emb.num_rows, int(encoder["dim"])).astype(np.float32)
    row_of = {k: i for i, k in enumerate(keys) if k[0] in ("class", "subtext", "class_text")}
    missing = [c["name"] for c in classes if ("class", c["class_id"], None, None) not in row_of]
    if missing:
        raise LearnerError(f"{root / emb_name}: no class embedding for {missing[:5]}")
    class_pooled = pooled[[row_of[("class", c["class_id"], None, None)] for c in classes]]
    grouped: dict[tuple[int, int], list[dict]] = {}
    for r in subtexts:
        r.setdefault("set_kind", "full")  # bundles made before the column
        augmentation = r["set_kind"] == "class_text" and r["rejected_reason"] is None
        if r["tpp"] is not None or augmentation:
            grouped.setdefault((r["class_id"], r["candidate_id"]), []).append(r)
    sets = []
    for (class_id, candidate_id), rows in sorted(grouped.items()):
        rows.sort(key=lambda r: r["position"])
        kind = "class_text" if rows[0]["set_kind"] == "class_text" else "subtext"
        index = [row_of.get((kind, class_id, candidate_id, r["position"])) for r in rows]
        if None in index:
            raise LearnerError(f"{root / emb_name}: no embedding for a sub-text of class "
                               f"{class_id} candidate {candidate_id}")
        first = rows[0]
        sets.append(CandidateSet(class_id, candidate_id, first["source"], first["source_kind"],
                                 None if first["tpp"] is None else float(first["tpp"]),
                                 bool(first["selected"]), [r["text"] for r in rows],
                                 pooled[index], first["set_kind"]))
    return TextEmbeddings(root, manifest, encoder, [c["name"] for c in classes],
                          [c["label"] for c in classes], [c["text"] for c in classes],
                          class_pooled, sets)
