"""Serve the corpus flow as a deployment, so runs can be started from the Prefect UI with
parameters (dataset, class limit, config file, CLIP encoder). Started by `make ui`."""

import os

from pipelines.prefect_settings import configure_prefect_defaults

DEPLOYMENT = "build-corpus-local"


def main() -> None:
    configure_prefect_defaults()
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO")
    from pipelines.corpus_flow import build_corpus

    build_corpus.serve(
        name=DEPLOYMENT,
        description="Build a corpus bundle; parameters as `subtext corpus build`.",
        parameters={"dataset": "hmdb51", "out": "artifacts/corpora/hmdb51", "classes": 5},
        tags=["subtext", "corpus"],
    )


if __name__ == "__main__":
    main()
