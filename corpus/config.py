"""Corpus build configuration: YAML validated by typed models, defaults that run offline."""

import math
import os
import re
from collections import Counter
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from corpus.errors import ConfigError
from corpus.paths import data_dir

EMBEDDED = "embedded"
EmbeddedLLM = Literal["fallback", "always", "never"]
EMBEDDED_LLM_MODES = EmbeddedLLM.__args__


ENV_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Prefixes of keys people paste: OpenAI/Anthropic/Stripe (sk-, sk_), GitHub (ghp_, gho_,
# ghs_, github_pat_), Slack (xoxb-, xoxp-), Hugging Face (hf_), Google (AIza).
KEY_PREFIXES = ("sk-", "sk_", "ghp_", "gho_", "ghs_", "github_pat_", "xoxb-", "xoxp-",
                "xoxa-", "hf_", "AIza")
AWS_ACCESS_KEY = re.compile(r"(AKIA|ASIA)[0-9A-Z]{16}")


def _entropy_bits(text: str) -> float:
    """Shannon entropy per character of `text`'s character distribution."""
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def looks_like_a_key(value: str) -> bool:
    """A value that may be a secret rather than an environment variable's name: a known
    key prefix, not a variable name at all, or a long token with no word structure
    (variable names of 20+ characters join words with `_`; keys are letters and digits
    drawn at random)."""
    if value.startswith(KEY_PREFIXES) or AWS_ACCESS_KEY.fullmatch(value):
        return True
    if not ENV_VAR_NAME.fullmatch(value):
        return True
    if len(value) < 20 or "_" in value:
        return False
    digits = sum(c.isdigit() for c in value) / len(value)
    mixed_case = value != value.upper() and value != value.lower()
    random_looking = digits >= 0.15 or (mixed_case and digits > 0)
    return random_looking and _entropy_bits(value) >= 3.0


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Endpoint(_Strict):
    """One OpenAI-compatible endpoint and model. `base_url: embedded` is the local SmolLM2."""

    name: str
    base_url: str
    model: str
    api_key_env: str | None = None  # the variable's NAME; its value is never stored
    temperature: float = Field(0.0, ge=0.0, le=2.0)
    max_tokens: int = Field(256, ge=16)
    timeout_s: float = Field(60.0, gt=0)
    retries: int = Field(4, ge=0, le=20)  # transport faults (429, 5xx, timeouts)
    attempts: int = Field(3, ge=1, le=10)  # replies that fail validation
    concurrency: int = Field(4, ge=1, le=256)
    structured_output: Literal["openai", "llama_cpp", "json_object", "none"] = "openai"
    seed: int | None = 0
    # Selection tier: TPP picks among the valid sets of the lowest tier that has one.
    priority: int = Field(0, ge=0)

    @field_validator("name")
    @classmethod
    def _name_is_an_id(cls, v: str) -> str:
        if not v or any(c in v for c in "/:\\ "):
            raise ValueError(f"endpoint name {v!r} must be non-empty without '/', ':' or spaces")
        return v

    @field_validator("api_key_env")
    @classmethod
    def _a_name_not_a_key(cls, v: str | None) -> str | None:
        # The message never repeats the value: it may be the key itself.
        if v is not None and looks_like_a_key(v):
            raise ValueError(
                "this looks like a key, not the name of an environment variable (value "
                "hidden); put the variable's name here, e.g. OPENAI_API_KEY, and the key "
                "in that variable")
        return v

    @property
    def embedded(self) -> bool:
        return self.base_url == EMBEDDED

    def api_key(self) -> str:
        """The key from the environment variable `api_key_env` names (read when asked,
        never stored); local servers ignore the key, but the client insists on one."""
        if self.api_key_env is None:
            return "not-needed"
        value = os.environ.get(self.api_key_env)
        if not value:
            raise ConfigError(
                f"endpoint {self.name}: environment variable {self.api_key_env} is not set")
        return value


def embedded_endpoint() -> Endpoint:
    return Endpoint(
        name="embedded",
        base_url=EMBEDDED,
        model="SmolLM2-135M-Instruct-Q4_1",
        temperature=0.0,
        max_tokens=200,
        timeout_s=120,
        retries=2,
        attempts=3,
        concurrency=1,  # llama.cpp's server answers one request at a time
        structured_output="llama_cpp",
        # SmolLM2-135M proves the plumbing, not the content: its sets compete under TPP
        # only where no curated or configured source produced a valid set.
        priority=1,
    )


class TPPConfig(_Strict):
    alpha: Literal["paper"] = "paper"
    beta: Literal["paper", "diversity"] = "paper"
    epsilon: float = Field(1e-6, gt=0, lt=0.1)
    # Two sub-texts whose embeddings are at least this similar count as duplicates.
    near_duplicate_cosine: float = Field(0.97, gt=0, le=1)
    # `auto`: the first CLIP encoder with real weights, else the offline MiniLM.
    encoder: str = "auto"


class ClipEncoder(_Strict):
    """An open_clip text encoder whose embeddings go into the bundle."""

    model_config = ConfigDict(extra="forbid", frozen=True)  # hashable: one instance per spec

    model: str
    pretrained: str  # a tag (networked machine), a checkpoint path, or `random`
    seed: int = 0  # random weights only


class ImportSpec(_Strict):
    """Text knowledge released by another project, brought in as candidate sets."""

    format: str = "auto"  # a name in corpus.formats.FORMATS, or auto: detected from the file
    path: str
    priority: int = Field(0, ge=0)
    label: str | None = None
    # auto: by name, by index where the file gives no names; a name contradicting its index
    # stops the build. name / index: map by that alone (`--by-name` / `--by-index`).
    mapping: Literal["auto", "name", "index"] = "auto"
    # Descriptions over CLIP's 77 tokens or 200 characters: keep (flagged), truncate,
    # reject (the file is refused); None: the config's `on_long`.
    on_long: Literal["keep", "truncate", "reject"] | None = None

    @field_validator("format")
    @classmethod
    def _known_format(cls, v: str) -> str:
        from corpus.formats import FORMATS

        if v != "auto" and v not in FORMATS:
            raise ValueError(f"unknown import format {v!r}; choose one of {', '.join(FORMATS)}")
        return v


class CorpusConfig(_Strict):
    class_template: str = "{}"
    n_subtexts: int = Field(4, ge=2, le=8)
    seed: int = 0
    prompts: str = "subtexts-v1"
    curated: Literal["auto", "always", "never"] = "auto"
    curated_priority: int = Field(0, ge=0)
    imports: list[ImportSpec] = Field(default_factory=list)
    # Sub-texts over CLIP's 77 tokens or 200 characters, from any source: keep (recorded in
    # n_tokens, flagged `truncated`), truncate (cut to fit, recorded) or reject (the set is
    # rejected, saying which sub-text). An import's own `on_long` overrides it for its file.
    on_long: Literal["keep", "truncate", "reject"] = "keep"
    endpoints: list[Endpoint] = Field(default_factory=list)
    # With no endpoints configured, where the embedded SmolLM2 server runs: `fallback`
    # only for classes no curated or imported source covers (a curated dataset starts no
    # server), `always` for every class (for comparisons), `never` not at all.
    embedded_llm: EmbeddedLLM = "fallback"
    tpp: TPPConfig = Field(default_factory=TPPConfig)
    encoders: list[ClipEncoder] = Field(default_factory=list)
    embed_batch_size: int = Field(64, ge=1)
    # Semantic units and entities (ASU, ALT).
    unit_prompts: str = "units-v1"
    # How an entity is embedded (docs/methods.md §5, [ours]); "{description}" is left out when an
    # entity has none.
    entity_template: str = "{entity}, {description}"
    # One-sentence descriptions of multi-word entities come from the first configured
    # endpoint; the embedded SmolLM2 is never asked (its text would be placeholder).
    phrase_descriptions: Literal["auto", "never"] = "auto"

    @field_validator("class_template")
    @classmethod
    def _one_slot(cls, v: str) -> str:
        if v.count("{}") != 1:
            raise ValueError(f"class_template {v!r} must contain exactly one '{{}}'")
        return v

    @field_validator("embedded_llm", mode="before")
    @classmethod
    def _no_bool(cls, v: object) -> object:
        if isinstance(v, bool):
            raise ValueError(f"{str(v).lower()} is no longer accepted; use one of "
                             f"{', '.join(EMBEDDED_LLM_MODES)} (false is now never, "
                             "true is now always)")
        return v

    @field_validator("endpoints")
    @classmethod
    def _unique_names(cls, v: list[Endpoint]) -> list[Endpoint]:
        names = [e.name for e in v]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"endpoint names must be unique, repeated: {dupes}")
        return v

    def llm_endpoints(self) -> list[Endpoint]:
        """The configured endpoints, or the embedded model when none is configured."""
        if self.endpoints:
            return self.endpoints
        return [] if self.embedded_llm == "never" else [embedded_endpoint()]


def default_config_path() -> Path:
    return data_dir() / "configs" / "default.yaml"


def load_config(path: str | Path | None = None) -> CorpusConfig:
    path = Path(path) if path else default_config_path()
    if not path.is_file():
        raise ConfigError(f"config {path}: no such file")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise ConfigError(f"config {path}: not valid YAML: {err}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"config {path}: expected a mapping at the top level")
    try:
        return CorpusConfig.model_validate(raw)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in err.errors()
        )
        raise ConfigError(f"config {path}: {problems}") from None


def resolve_config(path: str | Path | None, clip: str | None = None,
                   pretrained: str | None = None, seed: int = 0,
                   import_format: str | None = None,
                   import_file: str | None = None, import_mapping: str = "auto",
                   import_on_long: str = "keep", import_n: int | None = None) -> CorpusConfig:
    """The config file with command-line overrides applied: an extra CLIP encoder, and for
    `subtext corpus import` an imported file as the only text source."""
    cfg = load_config(path)
    if clip:
        extra = ClipEncoder(model=clip, pretrained=pretrained or "random", seed=seed)
        cfg = cfg.model_copy(update={"encoders": [*cfg.encoders, extra]})
    if import_file:
        spec = ImportSpec(format=import_format or "auto", path=str(import_file),
                          mapping=import_mapping, on_long=import_on_long)
        if import_n is not None:
            if not 2 <= import_n <= 8:  # CorpusConfig.n_subtexts's range
                raise ConfigError(f"--n {import_n}: a bundle's sets have 2 to 8 sub-texts")
            cfg = cfg.model_copy(update={"n_subtexts": import_n})
        cfg = cfg.model_copy(update={"imports": [spec], "curated": "never",
                                     "endpoints": [], "embedded_llm": "never"})
    return cfg
