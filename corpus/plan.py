"""A build request resolved once into a plan: the validated config, the class list, the
prompts, and the digest of everything that determines the bundle's content.

Light on purpose (no LLM client, encoder or NLP library is imported), so the command
line can say "up to date" without loading any model.
"""

from dataclasses import dataclass
from pathlib import Path

import contract
from corpus import store
from corpus.classes import ClassList, load_class_list
from corpus.config import CorpusConfig, resolve_config
from corpus.curated import curated_inputs_sha256, curated_path
from corpus.errors import SubtextError
from corpus.manifest import inputs_sha256
from corpus.prompts import PromptSet, load_prompt_set
from corpus.unit_sources import UnitPrompts, load_unit_prompts


def use_curated(cfg: CorpusConfig, dataset: str) -> bool:
    exists = curated_path(dataset).is_file()
    if cfg.curated == "always" and not exists:
        raise SubtextError(f"config asks for curated text, but {curated_path(dataset)} is missing")
    return exists and cfg.curated != "never"


@dataclass(frozen=True)
class BuildRequest:
    """What a user asks for: the CLI's options, the Prefect deployment's parameters."""

    dataset: str
    out: str | None = None  # default artifacts/corpora/<dataset>
    classes: int | None = None  # only the first N classes
    config: str | None = None  # default data/configs/default.yaml
    clip: str | None = None  # an extra open_clip text encoder
    pretrained: str | None = None
    import_format: str | None = None  # `subtext corpus import`: the only text source
    import_file: str | None = None
    import_mapping: str = "auto"  # --by-name / --by-index
    import_on_long: str = "keep"  # --on-long
    import_n: int | None = None  # --n: sub-texts per set for the imported file's build


@dataclass(frozen=True)
class BuildPlan:
    """A request resolved: the validated config, the class list, the prompts, and the
    digest of everything that determines the bundle's content."""

    request: BuildRequest
    out: Path
    cfg: CorpusConfig
    class_list: ClassList
    prompts: PromptSet
    unit_prompts: UnitPrompts
    inputs_sha256: str


def default_out(dataset: str) -> Path:
    return Path("artifacts") / "corpora" / Path(dataset).stem


def plan_build(request: BuildRequest) -> BuildPlan:
    cfg = resolve_config(request.config, request.clip, request.pretrained,
                         import_format=request.import_format, import_file=request.import_file,
                         import_mapping=request.import_mapping,
                         import_on_long=request.import_on_long,
                         import_n=request.import_n)
    class_list = load_class_list(request.dataset).head(request.classes)
    prompts = load_prompt_set(cfg.prompts)
    unit_prompts = load_unit_prompts(cfg.unit_prompts)
    curated = (curated_inputs_sha256(class_list.dataset)
               if use_curated(cfg, class_list.dataset) else None)
    imported = []
    for spec in cfg.imports:
        if not Path(spec.path).is_file():
            raise SubtextError(f"import file {spec.path}: no such file")
        imported.append(contract.file_sha256(Path(spec.path)))
    digest = inputs_sha256(cfg, class_list, prompts, unit_prompts, curated, imported)
    out = Path(request.out) if request.out else default_out(request.dataset)
    return BuildPlan(request, out, cfg, class_list, prompts, unit_prompts, digest)


def up_to_date(plan: BuildPlan) -> dict | None:
    """The bundle's manifest when it exists, verifies and was built from the same inputs."""
    from corpus.verify import verify_bundle

    if not (plan.out / contract.MANIFEST).is_file():
        return None
    try:
        existing = store.read_manifest(plan.out)
    except SubtextError:
        return None
    if existing.get("inputs_sha256") != plan.inputs_sha256 or verify_bundle(plan.out):
        return None
    return existing


def transient_failures(out: Path) -> list[int]:
    """Classes of the bundle at `out` that a rerun may complete: those with a source whose
    failure was transient (failures.parquet `transient`). Succeeded classes replay their
    cached LLM replies on a rerun, so retrying costs only the calls that failed."""
    if not (out / "failures.parquet").is_file():
        return []
    try:
        rows = store.read_table(out, "failures.parquet").to_pylist()
    except SubtextError:
        return []
    return sorted({r["class_id"] for r in rows if r.get("transient")})
