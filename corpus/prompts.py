"""Prompt sets as versioned data files (`data/prompts/<id>.yaml`).

Their hashes go into the manifest."""

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import yaml

from corpus.errors import ConfigError
from corpus.paths import data_dir


@dataclass(frozen=True)
class Question:
    id: str
    text: str


@dataclass(frozen=True)
class PromptSet:
    id: str
    version: int
    system: str
    questions: tuple[Question, ...]
    path: Path
    sha256: str
    example_label: str | None = None
    example_subtexts: tuple[str, ...] = ()

    def system_text(self) -> str:
        example = ""
        if self.example_subtexts:
            reply = json.dumps({"subtexts": list(self.example_subtexts)})
            example = f'Example for the action "{self.example_label}":\n{reply}'
        return self.system.replace("{example}", example).strip()

    def messages(self, question: Question, label: str, n: int) -> list[dict[str, str]]:
        return [
            {"role": "system", "content": self.system_text()},
            {"role": "user", "content": question.text.format(label=label, n=n).strip()},
        ]

    def describe(self) -> dict:
        return {
            "id": self.id,
            "version": self.version,
            "file": self.path.name,
            "sha256": self.sha256,
            "system": self.system_text(),
            "questions": {q.id: q.text for q in self.questions},
        }


def resolve_prompt_path(name: str) -> Path:
    candidate = Path(name)
    if candidate.suffix in (".yaml", ".yml"):
        return candidate
    return data_dir() / "prompts" / f"{name}.yaml"


def load_prompt_set(name: str) -> PromptSet:
    path = resolve_prompt_path(name)
    if not path.is_file():
        raise ConfigError(f"prompt set {name!r}: {path} does not exist")
    raw_bytes = path.read_bytes()
    try:
        raw = yaml.safe_load(raw_bytes.decode("utf-8"))
        questions = tuple(Question(str(q["id"]), str(q["text"])) for q in raw["questions"])
        prompt_set = PromptSet(
            id=str(raw["id"]),
            version=int(raw["version"]),
            system=str(raw["system"]),
            questions=questions,
            path=path,
            sha256=hashlib.sha256(raw_bytes).hexdigest(),
            example_label=(raw.get("example") or {}).get("label"),
            example_subtexts=tuple((raw.get("example") or {}).get("subtexts", [])),
        )
    except (yaml.YAMLError, UnicodeDecodeError, KeyError, TypeError, ValueError) as err:
        raise ConfigError(
            f"prompt set {path}: expected keys id, version, system, questions[id, text] ({err})"
        ) from None
    if not questions:
        raise ConfigError(f"prompt set {path}: no questions")
    ids = [q.id for q in questions]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"prompt set {path}: question ids repeat: {ids}")
    for q in questions:
        try:
            q.text.format(label="x", n=4)
        except (KeyError, IndexError) as err:
            raise ConfigError(
                f"prompt set {path}: question {q.id!r} uses unknown placeholder {err}; "
                "only {label} and {n} exist"
            ) from None
    return prompt_set
