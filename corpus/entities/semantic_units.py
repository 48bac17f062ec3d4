"""The shared vocabulary of semantic units across a WHOLE action set (ASU), and the
class-unit links.

Input, from any number of sources (an LLM endpoint, the curated files, the class
names): source -> class id -> kind -> raw texts. Every raw text is normalised
(normalise.py); equal normal forms are one unit, whatever class, kind or source
produced them. A unit keeps every kind it was given (most frequent first), how many
classes produced it, which sources, and the surface forms seen.

Class-unit score [ours]: the share of the class's sources that produced the unit —
1.0 with a single source, or when every source of that class agrees; 0.5 when one
of two LLMs named it. The papers give no weighting; this one costs nothing, is 1.0
in the common case and lets a consumer prefer units several sources agree on.
"""

from collections import Counter, defaultdict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

from corpus.entities.kinds import ALL_KINDS, UNIT_KINDS
from corpus.entities.normalise import normalise_units, split_items

ClassId = Hashable
RawUnits = Mapping[str, Mapping[ClassId, Mapping[str, Sequence[str] | str | None]]]

UNKNOWN_KIND = "unknown"  # a noun from a class name: WordNet types it later
CLASS_NAME_SOURCE = "class_name"


@dataclass
class Unit:
    unit_id: str  # the normal form with "_" for spaces: stable across runs and datasets
    text: str  # the normal form (lower-case, lemmatised head, no determiners)
    head: str  # lemma of the head noun, or of the main verb for motions
    kind: str  # the most frequent kind the sources gave (UNKNOWN_KIND if none)
    kinds: list[str]  # every kind given, most frequent first
    n_words: int
    n_classes: int  # classes that produced it (its frequency across the action set)
    n_mentions: int  # (class, source, kind) mentions
    sources: list[str]
    surface_forms: list[str]


@dataclass
class ClassUnit:
    class_id: ClassId
    unit_id: str
    kind: str  # the kind this class's sources gave it (most frequent)
    score: float  # share of this class's sources that produced it
    sources: list[str]


@dataclass
class Rejection:
    class_id: ClassId
    source: str
    kind: str
    raw: str
    reason: str


@dataclass
class Vocabulary:
    units: list[Unit]
    class_units: list[ClassUnit]
    rejected: list[Rejection] = field(default_factory=list)
    problems: list[dict] = field(default_factory=list)  # per class: a source missing a kind

    def unit_rows(self) -> list[dict]:
        return [asdict(u) for u in self.units]

    def class_unit_rows(self) -> list[dict]:
        return [asdict(c) for c in self.class_units]

    def rejected_rows(self) -> list[dict]:
        return [asdict(r) for r in self.rejected]

    def by_id(self) -> dict[str, Unit]:
        return {u.unit_id: u for u in self.units}


def unit_id(text: str) -> str:
    return text.replace(" ", "_")


def _items(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return split_items(value)
    return [p for v in value for p in (split_items(v) if isinstance(v, str) else [v])]


def _rank(counter: Counter, order: Sequence[str]) -> list[str]:
    position = {k: i for i, k in enumerate(order)}
    return sorted(counter, key=lambda k: (-counter[k], position.get(k, len(order)), k))


def build_vocabulary(raw: RawUnits, kinds: Sequence[str] = UNIT_KINDS,
                     expected_kinds: Sequence[str] | None = None) -> Vocabulary:
    """Normalise, de-duplicate and link every unit of `kinds` from every source.

    Kinds outside `kinds` are skipped (so one raw dict can feed both the ASU units
    and the ALT entities); a source that gives a class nothing for one of
    `expected_kinds` (default: the four ASU kinds among `kinds`) is recorded in
    `problems`, and every rejected text in `rejected` with its reason. Neither stops
    the build. The class-name source is exempt from the missing-kind check.
    """
    if expected_kinds is None:
        expected_kinds = [k for k in kinds if k in UNIT_KINDS]
    problems: list[dict] = []
    # (source, class, kind, raw) per kind, normalised in one nlp.pipe batch per kind
    pending: dict[str, list[tuple[str, ClassId, str]]] = defaultdict(list)
    for source, per_class in raw.items():
        for class_id, by_kind in per_class.items():
            by_kind = by_kind or {}
            if source != CLASS_NAME_SOURCE:
                missing = [k for k in expected_kinds if not _items(by_kind.get(k))]
                if missing:
                    problems.append({"class_id": class_id, "source": source,
                                     "problem": f"no {', '.join(missing)}"})
            for kind, value in by_kind.items():
                if kind in kinds:
                    pending[kind] += [(source, class_id, item) for item in _items(value)]

    rejected: list[Rejection] = []
    mentions: list[tuple[str, ClassId, str, str, str, str]] = []  # src, cls, kind, text, head, raw
    for kind in [k for k in (*ALL_KINDS, UNKNOWN_KIND) if k in pending]:
        rows = pending[kind]
        results = normalise_units([r for _, _, r in rows], kind)
        for (source, class_id, _), res in zip(rows, results, strict=True):
            if res.ok:
                mentions.append((source, class_id, kind, res.text, res.head, res.raw))
            else:
                rejected.append(Rejection(class_id, source, kind, str(res.raw), res.reason))

    sources_of_class: dict[ClassId, set[str]] = defaultdict(set)
    for source, class_id, *_ in mentions:
        sources_of_class[class_id].add(source)
    kind_order = (*ALL_KINDS, UNKNOWN_KIND)
    units: dict[str, dict] = {}
    links: dict[tuple[ClassId, str], dict] = {}
    for source, class_id, kind, text, head, raw_text in mentions:
        u = units.setdefault(text, {"head": head, "kinds": Counter(), "classes": set(),
                                    "sources": set(), "forms": Counter(), "n": 0})
        u["kinds"][kind] += 1
        u["classes"].add(class_id)
        u["sources"].add(source)
        u["forms"][str(raw_text).strip()] += 1
        u["n"] += 1
        link = links.setdefault((class_id, text), {"kinds": Counter(), "sources": set()})
        link["kinds"][kind] += 1
        link["sources"].add(source)

    unit_list = []
    for text, u in sorted(units.items()):
        ranked = _rank(u["kinds"], kind_order)
        known = [k for k in ranked if k != UNKNOWN_KIND]
        unit_list.append(Unit(unit_id(text), text, u["head"], (known or ranked)[0], ranked,
                              len(text.split()), len(u["classes"]), u["n"],
                              sorted(u["sources"]), [f for f, _ in u["forms"].most_common()]))
    class_units = []
    for (class_id, text), link in links.items():
        ranked = _rank(link["kinds"], kind_order)
        known = [k for k in ranked if k != UNKNOWN_KIND]
        n_sources = len(sources_of_class[class_id])
        class_units.append(ClassUnit(class_id, unit_id(text), (known or ranked)[0],
                                     round(len(link["sources"]) / n_sources, 4),
                                     sorted(link["sources"])))
    class_units.sort(key=lambda c: (str(c.class_id), c.unit_id))
    return Vocabulary(unit_list, class_units, rejected, problems)


def class_name_source(labels: Mapping[ClassId, str]) -> dict[ClassId, dict[str, list[str]]]:
    """The class names as one more source (ALT's NLP route): nouns as UNKNOWN_KIND
    (typed by WordNet later), verbs as motions."""
    from corpus.entities.normalise import class_name_units

    ids = list(labels)
    out: dict[ClassId, dict[str, list[str]]] = {}
    for class_id, found in zip(ids, class_name_units([labels[i] for i in ids]), strict=True):
        by_kind: dict[str, list[str]] = defaultdict(list)
        for kind, text in found:
            by_kind[kind or UNKNOWN_KIND].append(text)
        out[class_id] = dict(by_kind)
    return out
