"""Checks on a manifest's header and paths that both readers of a bundle apply."""

from pathlib import PurePosixPath

from contract.schema import FORMAT, MANIFEST, SCHEMA_VERSION


def check_manifest(manifest: object) -> str | None:
    """Why `manifest` (parsed JSON) is not a manifest this code reads, or None."""
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        return f"{MANIFEST} is not a {FORMAT} manifest"
    if manifest.get("schema_version") != SCHEMA_VERSION:
        return (f"schema_version {manifest.get('schema_version')!r}; this subtext reads "
                f"schema_version {SCHEMA_VERSION}")
    return None


def unsafe_name(name: object) -> str | None:
    """Why a relative path could escape its bundle (or an archive's extraction directory),
    or None if it is safe."""
    if not isinstance(name, str) or not name:
        return "empty name"
    if "\\" in name or "\x00" in name:
        return "backslash or NUL in the name"
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "absolute path"
    if ".." in PurePosixPath(name).parts:
        return "path traversal ('..')"
    return None


def unsafe_manifest_paths(manifest: dict) -> list[str]:
    """Manifest paths (`files`, `encoders[].file`) that would resolve outside the bundle."""
    paths = list(manifest.get("files", {}))
    paths += [e.get("file", "") for e in manifest.get("encoders", []) if isinstance(e, dict)]
    return sorted({p for p in paths if unsafe_name(p)})
