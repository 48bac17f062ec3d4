"""Where the project's data files and caches live."""

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    return Path(os.environ.get("SUBTEXT_DATA", REPO_ROOT / "data"))


def cache_dir() -> Path:
    """Response and embedding caches; shared by every run so reruns are free."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "subtext"
    return Path(os.environ.get("SUBTEXT_CACHE_DIR", default))
