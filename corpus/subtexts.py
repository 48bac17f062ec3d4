"""Sub-text candidate sets (Storyboard/SFAR, docs/methods.md §1a): generated and checked.

A *source* turns one action class into one candidate set of N sub-texts. An LLM
source is a (model, question prompt) pair; a curated source is one perspective of
the project's reference text. Every source of every class is tried, and TPP later
picks one set per class.
"""

import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

from contract import SET_KINDS
from corpus.classes import ActionClass
from corpus.errors import ReplyInvalid
from corpus.prompts import PromptSet, Question
from corpus.text import NEAR_DUPLICATE_JACCARD, jaccard, normalise
from corpus.tokens import CLIP_CONTEXT, clip_token_counts, fit_clip_context

if TYPE_CHECKING:  # the client pulls in openai; sources only hold one
    from corpus.llm.client import LLMClient

# A reply may not smuggle raw newlines or control characters into a sub-text; the
# pattern also makes llama.cpp's grammar keep strings on one line (docs/offline.md).
SUBTEXT_PATTERN = r"^[A-Za-z0-9 ,.;:'()/-]{1,120}$"
MAX_SUBTEXT_CHARS = 200

# What a candidate is (subtexts.parquet `set_kind`, docs/corpus-format.md). A source that
# has fewer than N distinct descriptions for a class (an imported file) keeps them rather
# than dropping the class: 2 to N-1 form a *short* set, scored with TPP over its own size;
# one sentence (FROSTER's rephrased class) is a *class-text augmentation*, an alternative
# class text that is embedded but never scored or selected as sub-texts.
FULL, SHORT, CLASS_TEXT = SET_KINDS


@dataclass(frozen=True)
class Candidate:
    class_id: int
    source: str
    source_kind: str  # llm | curated | import
    model: str | None
    prompt_id: str | None
    subtexts: tuple[str, ...]
    set_kind: str = FULL  # SET_KINDS
    # `on_long` (config, docs/sharing.md): each sub-text's CLIP token count before the
    # pipeline cut it to fit (None where it was not cut; empty when nothing was), and why
    # the set is rejected for length.
    n_tokens_before_cut: tuple[int | None, ...] = ()
    length_rejection: str | None = None


def is_class_text(subtext_row: dict) -> bool:
    """A subtexts.parquet row of a valid class-text augmentation (one sentence a source gives
    instead of a set); bundles made before `set_kind` have none."""
    return subtext_row.get("set_kind") == CLASS_TEXT and subtext_row["rejected_reason"] is None


def set_kind_of(n_items: int, n: int) -> str:
    """What a source's `n_items` descriptions of one class are, for sets of n."""
    return CLASS_TEXT if n_items == 1 else SHORT if n_items < n else FULL


class Source(Protocol):
    id: str
    kind: str
    attempts: int
    priority: int

    def candidate(self, action: ActionClass) -> Candidate: ...

    def covers(self, action: ActionClass) -> bool:
        """Whether the source has text of its own for the class (an LLM can always be asked;
        a file only for the classes it lists)."""

    def describe(self) -> dict: ...


def subtext_schema(n: int) -> dict:
    return {
        "type": "object",
        "properties": {
            "subtexts": {
                "type": "array",
                "items": {"type": "string", "pattern": SUBTEXT_PATTERN},
                "minItems": n,
                "maxItems": n,
            }
        },
        "required": ["subtexts"],
    }


_NUMBERING = re.compile(r"^\s*(?:step\s*)?\d+\s*[.):-]\s*", re.IGNORECASE)


def clean_subtext(text: str) -> str:
    """Collapse whitespace and drop list numbering ("1. ", "Step 2:") a model may add."""
    return " ".join(_NUMBERING.sub("", text).split())


def parse_subtext_reply(reply: Any, n: int, example: tuple[str, ...] = ()) -> tuple[str, ...]:
    """A reply's sub-texts, or ReplyInvalid saying what is wrong with it as a reply."""
    if not isinstance(reply, dict) or "subtexts" not in reply:
        raise ReplyInvalid(f"expected an object with key 'subtexts', got {str(reply)[:80]!r}")
    items = reply["subtexts"]
    if not isinstance(items, list) or not all(isinstance(s, str) for s in items):
        raise ReplyInvalid("'subtexts' must be a list of strings")
    if len(items) != n:
        raise ReplyInvalid(f"expected {n} sub-texts, got {len(items)}")
    cleaned = tuple(clean_subtext(s) for s in items)
    too_long = [s for s in cleaned if len(s) > MAX_SUBTEXT_CHARS]
    if too_long:
        raise ReplyInvalid(f"sub-text longer than {MAX_SUBTEXT_CHARS} characters")
    copied = [s for s in cleaned for e in example if jaccard(s, e) >= NEAR_DUPLICATE_JACCARD]
    if copied:
        raise ReplyInvalid(f"copies the prompt's worked example: {copied[0][:60]!r}")
    return cleaned


ON_LONG = ("keep", "truncate", "reject")
TOO_LONG = "too long for CLIP"  # how a set rejected by `on_long: reject` is recorded


def is_long(n_tokens: int, text: str) -> bool:
    """Over CLIP's context (which would cut it silently) or over MAX_SUBTEXT_CHARS."""
    return n_tokens > CLIP_CONTEXT or len(text) > MAX_SUBTEXT_CHARS


def apply_on_long(candidate: Candidate, on_long: str) -> Candidate:
    """A generated or curated set under the config's `on_long`: `keep` as it is (the bundle
    records n_tokens and flags `truncated`), `truncate` each long sub-text to the longest
    whole-word prefix within both limits, recording its length before; `reject` the set,
    naming the first long sub-text. Imported text is checked when its file is read, under
    that import's own `on_long` (corpus.formats)."""
    if on_long == "keep":
        return candidate
    counts = clip_token_counts(list(candidate.subtexts))
    long = [(i, n, t) for i, (n, t) in enumerate(zip(counts, candidate.subtexts, strict=True))
            if is_long(n, t)]
    if not long:
        return candidate
    if on_long == "reject":
        i, n, t = long[0]
        more = f" (and {len(long) - 1} more)" if len(long) > 1 else ""
        return replace(candidate, length_rejection=(
            f"{TOO_LONG}: sub-text {i} is {n} CLIP tokens (limit {CLIP_CONTEXT}) and "
            f"{len(t)} characters (limit {MAX_SUBTEXT_CHARS}){more}, {t[:40]!r}…; "
            "on_long: reject"))
    before = dict.fromkeys(range(len(counts)))
    cut = list(candidate.subtexts)
    for i, n, t in long:
        cut[i], before[i] = fit_clip_context(t, MAX_SUBTEXT_CHARS), n
    return replace(candidate, subtexts=tuple(cut), n_tokens_before_cut=tuple(before.values()))


def textual_reject_reason(label: str, subtexts: tuple[str, ...], n: int,
                          set_kind: str = FULL) -> str | None:
    """Why a candidate set is degenerate before any embedding is computed, or None.

    TPP is +inf for a sub-text identical to the class text (alpha(1) = 0) or a set of
    identical sub-texts (beta(0) = 0), and high for sets that merely echo the class
    name: such sets must never reach selection. A source marks a set short or a class-text
    augmentation itself (`Candidate.set_kind`); any other set must have exactly n.
    """
    size = len(subtexts)
    if set_kind_of(size, n) != set_kind or size > n:
        expected = {FULL: f"{n} sub-texts", SHORT: f"2 to {n - 1} sub-texts (a short set)",
                    CLASS_TEXT: "1 sentence (a class-text augmentation)"}[set_kind]
        return f"expected {expected}, got {size}"
    normalised = [normalise(s) for s in subtexts]
    if any(not s for s in normalised):
        return "empty sub-text"
    if len(set(normalised)) < size:
        return "duplicate sub-texts"
    if normalise(label) in normalised:
        return "sub-text restates the class name"
    for i in range(size):
        for j in range(i + 1, size):
            overlap = jaccard(subtexts[i], subtexts[j])
            if overlap >= NEAR_DUPLICATE_JACCARD:
                return f"near-duplicate sub-texts (word overlap {overlap:.2f})"
    return None


@dataclass
class LLMSource:
    """One (model, question prompt) pair."""

    client: "LLMClient"
    prompts: PromptSet
    question: Question
    n: int
    kind: str = "llm"

    @property
    def id(self) -> str:
        return f"{self.client.endpoint.name}/{self.question.id}"

    @property
    def attempts(self) -> int:
        return self.client.endpoint.attempts

    @property
    def priority(self) -> int:
        return self.client.endpoint.priority

    def covers(self, action: ActionClass) -> bool:
        return True

    def candidate(self, action: ActionClass) -> Candidate:
        reply = self.client.complete_json(
            self.prompts.messages(self.question, action.label, self.n),
            subtext_schema(self.n),
            lambda r: parse_subtext_reply(r, self.n, self.prompts.example_subtexts),
        )
        return Candidate(action.class_id, self.id, self.kind, self.client.endpoint.model,
                         self.question.id, reply.value)

    def describe(self) -> dict:
        return {
            "id": self.id,
            "kind": self.kind,
            "endpoint": self.client.describe(),
            "prompt_set": self.prompts.id,
            "prompt_id": self.question.id,
            "prompt_sha256": self.prompts.sha256,
            "priority": self.priority,
        }
