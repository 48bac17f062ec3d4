"""Prefect's settings for subtext's runs, applied before Prefect is imported."""

import os
from pathlib import Path

# Written by `make ui` (scripts/ui.sh): the address of the local Prefect server it started.
UI_API_URL_FILE = Path("artifacts/prefect/api-url")


def configure_prefect_defaults() -> None:
    """Quiet, offline Prefect defaults (a user's own settings win). While `make ui` runs,
    builds report to its server and show in its UI."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "CRITICAL")
    # The ephemeral API starts in a subprocess; on a loaded 2-core machine it can take
    # longer than Prefect's default wait.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    if "PREFECT_API_URL" not in os.environ and UI_API_URL_FILE.is_file():
        url = UI_API_URL_FILE.read_text().strip()
        try:
            import httpx

            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                os.environ["PREFECT_API_URL"] = url
        except ImportError:
            pass  # no Prefect installed: builds run with --plain
        except httpx.HTTPError:
            pass  # a stale file from a UI that is gone: run ephemeral
