"""Where the project's data folder is: the checkout's `data/`, or the copy a wheel installs
as the `subtext_data` package (pyproject.toml maps it), or `$SUBTEXT_DATA`."""

import importlib.util
import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    if "SUBTEXT_DATA" in os.environ:
        return Path(os.environ["SUBTEXT_DATA"])
    checkout = REPO_ROOT / "data"
    if checkout.is_dir():
        return checkout
    spec = importlib.util.find_spec("subtext_data")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return checkout
