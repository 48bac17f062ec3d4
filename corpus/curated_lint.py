"""The curated text's rules (`subtext corpus lint-curated`): a registry of named checks.

Each rule reads one curated file against its class list and yields problems, each
naming the class. Most rules read the text alone; `discrimination` reads a
`GateReport` computed by `discrimination_gate` with a sentence encoder (MiniLM, and an
open_clip text tower when real weights are given). The rules are described in
docs/curated-format.md; a class record's `curation` entry lists the rules it passed.
"""

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from contract import UNIT_KINDS
from corpus.classes import ClassList
from corpus.curated import CURATED_PROVENANCE, PERSPECTIVES, CuratedClass, CuratedText
from corpus.text import CURATED_MAX_JACCARD, added_content_words, jaccard, normalise, words

SUBTEXTS_PER_SET = 4
SUBTEXT_WORDS = (4, 15)
UNIT_WORDS = (1, 4)
MIN_ADDED_WORDS = 2
SIBLINGS_K = 5  # siblings of a class, and the top-k a sub-text must retrieve its class in

# Words for what a camera cannot see: sound, smell, taste, feeling, thought, intention.
NON_VISUAL_WORDS = frozenset(
    "hear hears heard hearing listen listens listening sound sounds loud loudly noise noises "
    "noisy silent silently smell smells smelling taste tastes tasting feel feels feeling "
    "felt enjoy enjoys enjoying want wants wanting try tries trying decide decides deciding "
    "hope hopes think thinks thinking notice notices noticing proud happy happily excited "
    "nervous satisfying satisfied pleased relieved bored intend intends intending attempt "
    "attempts remember remembers realise realises realize realizes know knows believe "
    "believes love loves enjoyment delight delighted worried afraid scared".split()
)
# Words that give the actor a gender; allowed only when the class label itself has one.
GENDERED_WORDS = frozenset(
    "he she his her hers him himself herself man men woman women boy boys girl girls guy "
    "guys lady ladies gentleman gentlemen male female".split()
)

# WordNet lexicographer files a unit's head word may have (any of its senses) per kind.
# Scenes are places: rooms, buildings and fields are artifacts or objects in WordNet;
# events, acts and groups are not places. Motions are verb phrases headed by a verb of
# bodily or physical action.
KIND_LEXNAMES: dict[str, frozenset[str]] = {
    "body_parts": frozenset({"noun.body"}),
    "objects": frozenset({"noun.artifact", "noun.object", "noun.food", "noun.plant",
                          "noun.animal", "noun.substance"}),
    "scenes": frozenset({"noun.location", "noun.artifact", "noun.object"}),
    "motions": frozenset({"verb.motion", "verb.contact", "verb.body", "verb.competition",
                          "verb.consumption", "verb.creation", "verb.change",
                          "verb.possession"}),
}


@dataclass(frozen=True)
class SetScore:
    """One candidate set under the gate."""

    name: str
    perspective: str
    passes: bool  # mean embedding closer to the own label than to every sibling's
    margin: float  # own similarity minus the best sibling's
    nearest: str  # the most similar label over all classes
    subtexts_in_top_k: int  # how many of its sub-texts retrieve the class in the top k
    failing_subtexts: tuple[str, ...]


@dataclass(frozen=True)
class GateReport:
    encoder: str
    k: int
    sets: tuple[SetScore, ...]

    @property
    def sibling_pairs(self) -> int:
        return len(self.sets) * self.k

    def summary(self) -> dict:
        n = len(self.sets)
        n_sub = sum(SUBTEXTS_PER_SET for _ in self.sets)
        nearest = {}
        for p in dict.fromkeys(s.perspective for s in self.sets):
            group = [s for s in self.sets if s.perspective == p]
            nearest[p] = round(sum(s.nearest == s.name for s in group) / len(group), 4)
        return {
            "encoder": self.encoder,
            "k": self.k,
            "sets_checked": n,
            "sibling_pairs_checked": self.sibling_pairs,
            "set_pass_rate": round(sum(s.passes for s in self.sets) / max(n, 1), 4),
            "subtext_pass_rate": round(sum(s.subtexts_in_top_k for s in self.sets)
                                       / max(n_sub, 1), 4),
            "own_class_nearest_name_rate": nearest,
        }


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True).clip(min=1e-12)


def siblings(label_emb: np.ndarray, k: int) -> np.ndarray:
    """(C, k) indices of each class's k most similar other labels (cosine)."""
    sim = label_emb @ label_emb.T
    np.fill_diagonal(sim, -np.inf)
    return np.argsort(-sim, axis=1, kind="stable")[:, :k]


def score_set(own: int, subtext_emb: np.ndarray, label_emb: np.ndarray,
              sibs: np.ndarray, k: int) -> tuple[bool, float, int, np.ndarray]:
    """(passes, margin, nearest label, per-sub-text own-class-in-top-k) of one set.

    All embeddings are L2-normalised; the set's embedding is the normalised mean of its
    sub-texts'. Pure: arrays in, numbers out."""
    mean = _unit(subtext_emb.mean(axis=0))
    sim = label_emb @ mean
    margin = float(sim[own] - sim[sibs].max())
    sub_sim = subtext_emb @ label_emb.T  # (S, C)
    top = np.argsort(-sub_sim, axis=1, kind="stable")[:, :k]
    in_top = (top == own).any(axis=1)
    return margin > 0, margin, int(sim.argmax()), in_top


def discrimination_gate(curated: CuratedText, classes: ClassList,
                        encode: Callable[[list[str]], np.ndarray], encoder_id: str,
                        k: int = SIBLINGS_K) -> GateReport:
    """Every set of every class against its k sibling classes (CURATED_GATE / docs)."""
    names = [c.name for c in classes.classes]
    labels = [c.label for c in classes.classes]
    label_emb = _unit(encode(labels))
    sibs = siblings(label_emb, k)
    texts = sorted({s for e in curated.classes.values() for st in e.candidates.values()
                    for s in st})
    emb = dict(zip(texts, _unit(encode(texts)), strict=True))
    index = {n: i for i, n in enumerate(names)}
    scores = []
    for name, entry in curated.classes.items():
        if name not in index:
            continue
        own = index[name]
        for perspective, subtexts in entry.candidates.items():
            sub = np.stack([emb[s] for s in subtexts])
            passes, margin, nearest, in_top = score_set(own, sub, label_emb, sibs[own], k)
            scores.append(SetScore(name, perspective, passes, round(margin, 4),
                                   names[nearest], int(in_top.sum()),
                                   tuple(s for s, ok in zip(subtexts, in_top, strict=True)
                                         if not ok)))
    return GateReport(encoder_id, k, tuple(scores))


# --- the rules ---------------------------------------------------------------------------

# (class name, or None for the whole file; what is wrong)
Problem = tuple[str | None, str]


@dataclass
class LintInput:
    curated: CuratedText
    classes: ClassList
    gates: list[GateReport] = field(default_factory=list)

    @property
    def labels(self) -> dict[str, str]:
        return {c.name: c.label for c in self.classes.classes}


@dataclass(frozen=True)
class LintRule:
    name: str
    doc: str
    check: Callable[[LintInput], Iterator[Problem]]
    needs_encoder: bool = False


RULES: dict[str, LintRule] = {}


def rule(name: str, doc: str, needs_encoder: bool = False):
    def register(fn: Callable[[LintInput], Iterator[Problem]]):
        RULES[name] = LintRule(name, doc, fn, needs_encoder)
        return fn
    return register


def _each_subtext(entry: CuratedClass) -> Iterator[tuple[str, str]]:
    for perspective, subtexts in entry.candidates.items():
        for s in subtexts:
            yield perspective, s


@rule("provenance", "the revision record states CURATED_PROVENANCE verbatim")
def _provenance(x: LintInput) -> Iterator[Problem]:
    said = x.curated.revision.get("provenance")
    if said != CURATED_PROVENANCE:
        yield None, (f"revisions.json[{x.curated.dataset!r}].provenance must be the sentence "
               f"corpus.curated.CURATED_PROVENANCE, found {said!r}")


@rule("coverage", "every class of the class list exactly once, in its order")
def _coverage(x: LintInput) -> Iterator[Problem]:
    expected = [c.name for c in x.classes.classes]
    missing = [n for n in expected if n not in x.curated.classes]
    extra = [n for n in x.curated.classes if n not in set(expected)]
    if missing:
        yield None, f"missing classes ({len(missing)}): {', '.join(missing[:20])}"
    if extra:
        yield None, f"classes not in the class list ({len(extra)}): {', '.join(extra[:20])}"
    if not missing and list(x.curated.classes) != expected:
        yield None, "classes are not in class-list order"


@rule("perspectives", f"exactly the sets {', '.join(PERSPECTIVES)}, in this order, "
      f"{SUBTEXTS_PER_SET} sub-texts each")
def _perspectives(x: LintInput) -> Iterator[Problem]:
    for name, entry in x.curated.classes.items():
        if tuple(entry.candidates) != PERSPECTIVES:
            yield name, (f"sets must be {list(PERSPECTIVES)} in order, "
                         f"found {list(entry.candidates)}")
        for perspective, subtexts in entry.candidates.items():
            if len(subtexts) != SUBTEXTS_PER_SET:
                yield name, (f"{perspective}: needs {SUBTEXTS_PER_SET} sub-texts, "
                             f"has {len(subtexts)}")


@rule("subtext_length", f"{SUBTEXT_WORDS[0]}-{SUBTEXT_WORDS[1]} words per sub-text")
def _subtext_length(x: LintInput) -> Iterator[Problem]:
    for name, entry in x.curated.classes.items():
        for perspective, s in _each_subtext(entry):
            n = len(s.split())
            if not SUBTEXT_WORDS[0] <= n <= SUBTEXT_WORDS[1]:
                yield name, f"{perspective}: {n} words (allowed {SUBTEXT_WORDS}): {s!r}"


@rule("adds_to_name", f"each sub-text adds >= {MIN_ADDED_WORDS} content words to the class name")
def _adds_to_name(x: LintInput) -> Iterator[Problem]:
    labels = x.labels
    for name, entry in x.curated.classes.items():
        for perspective, s in _each_subtext(entry):
            if len(added_content_words(s, labels.get(name, name))) < MIN_ADDED_WORDS:
                yield name, f"{perspective}: restates the class name: {s!r}"


@rule("near_duplicates", f"no two sub-texts of a class with word-set Jaccard >= "
      f"{CURATED_MAX_JACCARD}")
def _near_duplicates(x: LintInput) -> Iterator[Problem]:
    for name, entry in x.curated.classes.items():
        subtexts = [s for _, s in _each_subtext(entry)]
        for i, a in enumerate(subtexts):
            for b in subtexts[i + 1:]:
                if jaccard(a, b) >= CURATED_MAX_JACCARD:
                    yield name, f"near-duplicate sub-texts: {a!r} / {b!r}"


def _listed_words(x: LintInput, listed: frozenset[str], what: str,
                  classes: Iterable[str]) -> Iterator[Problem]:
    """Every sub-text of `classes` that uses a word of `listed`."""
    for name in classes:
        for perspective, s in _each_subtext(x.curated.classes[name]):
            found = sorted(set(words(s)) & listed)
            if found:
                yield name, f"{perspective}: {what} word(s) {found}: {s!r}"


@rule("non_visual", "no sound, smell, taste, feeling, thought or intention words")
def _non_visual(x: LintInput) -> Iterator[Problem]:
    yield from _listed_words(x, NON_VISUAL_WORDS, "non-visual", x.curated.classes)


@rule("neutral_actor", "no gendered actor words unless the class label is gendered")
def _neutral_actor(x: LintInput) -> Iterator[Problem]:
    labels = x.labels
    ungendered = (n for n in x.curated.classes
                  if not set(words(labels.get(n, n))) & GENDERED_WORDS)
    yield from _listed_words(x, GENDERED_WORDS, "gendered", ungendered)


@rule("no_repeats", "no sub-text repeated verbatim in two classes of the dataset")
def _no_repeats(x: LintInput) -> Iterator[Problem]:
    seen: dict[str, str] = {}
    for name, entry in x.curated.classes.items():
        for _, s in _each_subtext(entry):
            key = normalise(s)
            if key in seen and seen[key] != name:
                yield name, f"sub-text also in class {seen[key]!r}: {s!r}"
            seen.setdefault(key, name)


@rule("unit_format", f"unit kinds exactly {UNIT_KINDS}; units and roles "
      f"{UNIT_WORDS[0]}-{UNIT_WORDS[1]} lower-case words; overrides name a unit and a reason")
def _unit_format(x: LintInput) -> Iterator[Problem]:
    for name, entry in x.curated.classes.items():
        unknown = sorted(set(entry.units) - set(UNIT_KINDS))
        if unknown:
            yield name, f"unit kinds must be {UNIT_KINDS}, found {unknown}"
        for kind, units in [*entry.units.items(), ("roles", entry.roles)]:
            for u in units:
                if not UNIT_WORDS[0] <= len(words(u)) <= UNIT_WORDS[1] or u != u.lower():
                    yield name, f"{kind}: unit must be 1-4 lower-case words: {u!r}"
        all_units = {u for units in entry.units.values() for u in units}
        for unit, reason in entry.unit_overrides.items():
            if unit not in all_units:
                yield name, f"unit_overrides names {unit!r}, which is not a unit of the class"
            if not str(reason).strip():
                yield name, f"unit_overrides[{unit!r}] needs a reason"


def _wordnet():
    from corpus.entities.models import wordnet

    return wordnet()


def head_word(unit: str, kind: str) -> str:
    """The word WordNet is asked about: a motion's verb (first word); a noun phrase's head
    (the last word before any "of")."""
    ws = unit.split()
    if kind == "motions":
        return ws[0]
    if "of" in ws[1:]:
        ws = ws[: ws.index("of", 1)]
    return ws[-1]


def unit_lexnames(unit: str, kind: str) -> set[str]:
    """Lexicographer files of the phrase when WordNet lists it, else of its head word."""
    wn = _wordnet()
    pos = wn.VERB if kind == "motions" else wn.NOUN
    synsets = wn.synsets(unit.replace(" ", "_"), pos=pos) if " " in unit else []
    if not synsets:
        synsets = wn.synsets(head_word(unit, kind), pos=pos)
    return {s.lexname() for s in synsets}


@rule("unit_kinds", "a unit's kind agrees with a WordNet lexicographer file of its head "
      "word (body_parts: noun.body; objects: physical things; scenes: places; motions: "
      "verbs of physical action), unless `unit_overrides` gives a reason")
def _unit_kinds(x: LintInput) -> Iterator[Problem]:
    for name, entry in x.curated.classes.items():
        for kind, units in entry.units.items():
            allowed = KIND_LEXNAMES.get(kind)
            if allowed is None:
                continue
            for u in units:
                if u in entry.unit_overrides:
                    continue
                found = unit_lexnames(u, kind)
                if not found & allowed:
                    yield name, (f"{kind}: {u!r} — WordNet files its head word "
                           f"{head_word(u, kind)!r} under {sorted(found) or 'nothing'}; "
                           "fix the kind or add a unit_overrides reason")


def _lemma_key(unit: str) -> str:
    wn = _wordnet()
    return " ".join(wn.morphy(w, wn.NOUN) or w for w in unit.split())


@rule("unit_duplicates", "no unit twice in a class, singular/plural or across kinds")
def _unit_duplicates(x: LintInput) -> Iterator[Problem]:
    for name, entry in x.curated.classes.items():
        seen: dict[str, str] = {}
        for kind, units in entry.units.items():
            for u in units:
                key = _lemma_key(u)
                if key in seen:
                    yield name, f"{kind}: {u!r} duplicates {seen[key]!r}"
                seen.setdefault(key, u)


@rule("discrimination", f"each set's mean embedding is closer to its class label than to "
      f"its {SIBLINGS_K} sibling labels, and each sub-text retrieves its class in the top "
      f"{SIBLINGS_K} labels", needs_encoder=True)
def _discrimination(x: LintInput) -> Iterator[Problem]:
    for gate in x.gates:
        for s in gate.sets:
            if not s.passes:
                yield s.name, (f"{s.perspective}: [{gate.encoder}] set is not closer to its "
                       f"class than to its siblings (margin {s.margin:+.3f}, nearest "
                       f"{s.nearest!r})")
            for sub in s.failing_subtexts:
                yield s.name, (f"{s.perspective}: [{gate.encoder}] sub-text does not retrieve "
                       f"its class in the top {gate.k}: {sub!r}")


# Rules a dataset is exempt from, with the reason (documented in docs/curated-format.md).
EXEMPTIONS: dict[str, dict[str, str]] = {
    "synthetic": {
        "perspectives": "describes generated clips of one shape on a plain background: there is "
                        "no object or scene to take a third angle on, so it keeps two sets",
        "no_repeats": "mirror-image classes (left/right, clockwise/anticlockwise, growing/"
                      "shrinking) share the lines that do not depend on the direction; their "
                      "sets differ in the lines that do",
        "discrimination": "its labels differ only in a direction of the same motion, which a "
                          "sentence encoder does not separate; the text is the learner's "
                          "fixture for generated clips, not reference text for a benchmark",
    },
}


def lint(x: LintInput, only: set[str] | None = None) -> dict[str, list[Problem]]:
    """Problems per rule name (every rule that applies, also those with none)."""
    exempt = EXEMPTIONS.get(x.curated.dataset, {})
    out = {}
    for r in RULES.values():
        if r.name in exempt or (only is not None and r.name not in only):
            continue
        if r.needs_encoder and not x.gates:
            continue
        out[r.name] = list(r.check(x))
    return out


def render(problem: Problem) -> str:
    name, message = problem
    return message if name is None else f"{name}: {message}"


# --- running it ---------------------------------------------------------------------------

def encoder_fn(encoder) -> Callable[[list[str]], np.ndarray]:
    """Pooled embeddings through the shared embedding cache (reruns are free)."""
    from corpus.encoders import EmbeddingCache

    cache = EmbeddingCache()

    def encode(texts: list[str]) -> np.ndarray:
        found = cache.embed(encoder, texts)
        return np.stack([found[t].pooled for t in texts]).astype(np.float32)
    return encode


def gate_encoders(clip=None) -> list:
    """MiniLM always; an open_clip text tower too when real weights are given."""
    from corpus.encoders import create_encoder
    from corpus.errors import ConfigError

    encoders = [create_encoder("minilm")]
    if clip is not None:
        if clip.pretrained == "random":
            raise ConfigError("lint-curated --pretrained random: random CLIP weights say "
                              "nothing about discrimination; give real weights (a checkpoint)")
        encoders.append(create_encoder(clip))
    return encoders


@dataclass
class LintResult:
    dataset: str
    problems: dict[str, list[Problem]]
    gates: list[GateReport]

    @property
    def ok(self) -> bool:
        return not any(self.problems.values())

    def failed_rules(self, name: str) -> set[str]:
        return {rule for rule, ps in self.problems.items()
                for cls, _ in ps if cls in (name, None)}

    def report(self) -> dict:
        return {
            "dataset": self.dataset,
            "ok": self.ok,
            "problems_by_rule": {r: len(ps) for r, ps in self.problems.items()},
            "exempt": EXEMPTIONS.get(self.dataset, {}),
            "gate": [g.summary() for g in self.gates],
        }


def lint_dataset(curated: CuratedText, classes: ClassList, encoders: list) -> LintResult:
    gates = [discrimination_gate(curated, classes, encoder_fn(e), e.id) for e in encoders]
    x = LintInput(curated, classes, gates)
    return LintResult(curated.dataset, lint(x), gates)
