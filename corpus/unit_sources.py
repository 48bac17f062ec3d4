"""Sources of raw semantic units (ASU) and entity characteristics (ALT).

Where they are generated.

Per class, every source gives raw phrases by kind: an LLM answers the `semantic_units`
question (body parts, objects, scenes, motions — ASU) and the `characteristics`
question (objects, body parts, scenes, roles — ALT); the curated text gives its units
and roles. Normalisation, the shared vocabulary, word-sense disambiguation and typing
happen in `corpus.entities`; the build writes the results to units.parquet,
class_units.parquet, entities.parquet and class_entities.parquet.
"""

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import yaml

from corpus.classes import ActionClass
from corpus.curated import CURATED_PROVENANCE, CuratedText, curation_path
from corpus.errors import ConfigError, ReplyInvalid, SubtextError
from corpus.prompts import resolve_prompt_path

if TYPE_CHECKING:  # the client pulls in openai; sources only hold one
    from corpus.llm.client import LLMClient

UNIT_ITEM_PATTERN = r"^[A-Za-z0-9 '/-]{1,60}$"
MAX_ITEMS = 8
DESCRIPTION_PATTERN = r"^[A-Za-z0-9 ,.;:'()/-]{1,240}$"
MAX_DESCRIPTION_WORDS = 40


@dataclass(frozen=True)
class UnitQuestion:
    id: str
    kinds: tuple[str, ...]
    text: str


@dataclass(frozen=True)
class UnitPrompts:
    id: str
    version: int
    system: str
    questions: tuple[UnitQuestion, ...]
    description: str
    sha256: str

    def messages(self, text: str) -> list[dict[str, str]]:
        return [{"role": "system", "content": self.system.strip()},
                {"role": "user", "content": text.strip()}]

    def describe(self) -> dict:
        return {"id": self.id, "version": self.version, "sha256": self.sha256,
                "system": self.system.strip(),
                "questions": {q.id: {"kinds": list(q.kinds), "text": q.text}
                              for q in self.questions},
                "description": self.description}


def load_unit_prompts(name: str = "units-v1") -> UnitPrompts:
    path = resolve_prompt_path(name)
    if not path.is_file():
        raise ConfigError(f"unit prompt set {name!r}: {path} does not exist")
    raw_bytes = path.read_bytes()
    try:
        raw = yaml.safe_load(raw_bytes.decode("utf-8"))
        return UnitPrompts(
            id=str(raw["id"]), version=int(raw["version"]), system=str(raw["system"]),
            questions=tuple(UnitQuestion(str(q["id"]), tuple(q["kinds"]), str(q["text"]))
                            for q in raw["questions"]),
            description=str(raw["description"]["text"]),
            sha256=hashlib.sha256(raw_bytes).hexdigest(),
        )
    except (yaml.YAMLError, UnicodeDecodeError, KeyError, TypeError, ValueError) as err:
        raise ConfigError(f"unit prompt set {path}: malformed ({err})") from None


@dataclass(frozen=True)
class RawUnits:
    """One source's raw phrases for one class, by kind, with what was wrong with the reply."""

    class_id: int
    source: str
    source_kind: str
    units: dict[str, tuple[str, ...]]
    notes: tuple[str, ...] = field(default=())


def units_schema(kinds: tuple[str, ...]) -> dict:
    item = {"type": "string", "pattern": UNIT_ITEM_PATTERN}
    return {
        "type": "object",
        "properties": {k: {"type": "array", "items": item, "minItems": 1,
                           "maxItems": MAX_ITEMS} for k in kinds},
        "required": list(kinds),
    }


def parse_units_reply(reply: Any, kinds: tuple[str, ...]) -> tuple[dict, tuple[str, ...]]:
    """Phrases by kind; a missing kind or a bad item is noted, not fatal. A reply with no
    usable kind at all is invalid (and re-asked)."""
    if not isinstance(reply, dict):
        raise ReplyInvalid(f"expected an object with keys {list(kinds)}")
    units: dict[str, tuple[str, ...]] = {}
    notes: list[str] = []
    for kind in kinds:
        items = reply.get(kind)
        if items is None:
            notes.append(f"reply has no {kind!r}")
            continue
        if not isinstance(items, list):
            notes.append(f"{kind!r} is not a list")
            continue
        good = [" ".join(i.split()) for i in items if isinstance(i, str) and i.strip()]
        if len(good) < len(items):
            notes.append(f"{kind!r}: dropped {len(items) - len(good)} empty or non-text item(s)")
        units[kind] = tuple(good[:MAX_ITEMS])
    if not any(units.values()):
        raise ReplyInvalid(f"no usable items for any of {list(kinds)}")
    return units, tuple(notes)


@dataclass
class LLMUnitSource:
    client: "LLMClient"
    prompts: UnitPrompts
    question: UnitQuestion
    kind: str = "llm"

    @property
    def id(self) -> str:
        return f"{self.client.endpoint.name}/{self.question.id}"

    @property
    def priority(self) -> int:
        return self.client.endpoint.priority

    def units(self, action: ActionClass) -> RawUnits:
        reply = self.client.complete_json(
            self.prompts.messages(self.question.text.format(label=action.label)),
            units_schema(self.question.kinds),
            lambda r: parse_units_reply(r, self.question.kinds),
        )
        units, notes = reply.value
        return RawUnits(action.class_id, self.id, self.kind, units, notes)

    def describe(self) -> dict:
        return {"id": self.id, "kind": self.kind, "endpoint": self.client.endpoint.name,
                "prompt_id": self.question.id, "prompt_sha256": self.prompts.sha256,
                "priority": self.priority}


@dataclass
class CuratedUnitSource:
    curated: CuratedText
    kind: str = "curated"
    id: str = "curated/units"
    priority: int = 0
    # the classes of the bundle: the manifest carries their curation records only
    class_names: tuple[str, ...] = ()

    def units(self, action: ActionClass) -> RawUnits:
        entry = self.curated.lookup(action.name)
        if entry is None:
            raise SubtextError(f"curated text has no class {action.name!r}")
        return RawUnits(action.class_id, self.id, self.kind,
                        {**entry.units, "roles": entry.roles})

    def describe(self) -> dict:
        info = {"id": self.id, "kind": self.kind,
                "file": f"data/curated/{self.curated.path.name}",
                "file_sha256": self.curated.sha256, "revision": self.curated.revision,
                "provenance": CURATED_PROVENANCE, "priority": self.priority}
        if self.curated.curation:
            names = self.class_names or tuple(self.curated.classes)
            info["curation"] = {
                "file": f"data/curated/{curation_path(self.curated.path).name}",
                "file_sha256": self.curated.curation_sha256,
                "classes": {n: self.curated.curation[n] for n in names
                            if n in self.curated.curation},
            }
        return info


def description_schema() -> dict:
    return {"type": "object",
            "properties": {"description": {"type": "string", "pattern": DESCRIPTION_PATTERN}},
            "required": ["description"]}


def parse_description(reply: Any) -> str:
    if not isinstance(reply, dict) or not isinstance(reply.get("description"), str):
        raise ReplyInvalid("expected an object with a 'description' string")
    text = " ".join(reply["description"].split())
    if not text:
        raise ReplyInvalid("empty description")
    if len(text.split()) > MAX_DESCRIPTION_WORDS:
        raise ReplyInvalid(f"description longer than {MAX_DESCRIPTION_WORDS} words")
    return text


def describe_phrase(client: "LLMClient", prompts: UnitPrompts, phrase: str, label: str) -> str:
    """ALT: an LLM-written one-sentence visual description of a multi-word entity."""
    text = prompts.description.format(phrase=phrase, label=label)
    return client.complete_json(prompts.messages(text), description_schema(),
                                parse_description).value
