"""Where the project's data files and caches live."""

import os
from pathlib import Path

from contract.paths import REPO_ROOT, data_dir

__all__ = ["REPO_ROOT", "cache_dir", "data_dir"]


def cache_dir() -> Path:
    """Response and embedding caches; shared by every run so reruns are free."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "subtext"
    return Path(os.environ.get("SUBTEXT_CACHE_DIR", default))
