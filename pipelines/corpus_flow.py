"""The corpus build as a Prefect flow: `corpus.pipeline.build` with its stages as tasks.

The flow is thin: its body is the library's one build function; this module only says
how a stage runs under Prefect (a task per stage, one task per class for generation,
retries declared on the tasks) and publishes the selection as UI artifacts. Without a
server the flow runs on Prefect's ephemeral API; with PREFECT_API_URL set (`make ui`) it
shows in that server's UI, and the UI can start it with these parameters.
"""

import logging
from collections.abc import Callable
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed
from prefect.logging.handlers import APILogHandler, PrefectConsoleHandler
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.utilities.annotations import quote, unmapped

from corpus import pipeline
from corpus.errors import SubtextError
from corpus.plan import BuildRequest, plan_build
from corpus.printable import printable
from corpus.selection import ScoredClass
from model.errors import LearnerError

# Errors that mean bad input: the CLI prints their one line (the learner's too, for the
# zero-shot flow).
USER_ERRORS = (SubtextError, LearnerError)


def _user_error_names() -> set[str]:
    found, todo = set(), list(USER_ERRORS)
    while todo:
        cls = todo.pop()
        found.add(cls.__name__)
        todo += cls.__subclasses__()
    return found


def _not_a_user_error(record: logging.LogRecord) -> bool:
    exc = record.exc_info[1] if record.exc_info else None
    if isinstance(exc, USER_ERRORS):
        return False
    # A failed task's final state names its exception in text only ("Finished in state
    # Failed('Task run encountered an exception LearnerError: …')"), with no exc_info.
    message = record.getMessage()
    return not (message.startswith("Finished in state Failed")
                and any(f"exception {name}: " in message for name in _user_error_names()))


def _escape_controls(record: logging.LogRecord) -> bool:
    """Log text carries class names, sub-texts and endpoint replies: write its control
    characters as escapes (corpus.printable) before any handler shows or stores it."""
    message = record.getMessage()
    safe = printable(message)
    if safe != message:
        record.msg, record.args = safe, None
    if record.exc_info and not record.exc_text:
        record.exc_text = printable(logging.Formatter().formatException(record.exc_info))
    return True


def _prefect_handlers() -> list[logging.Handler]:
    names = logging.root.manager.loggerDict
    loggers = [logging.getLogger(), *(logging.getLogger(n) for n in names)]
    return [h for logger in loggers for h in getattr(logger, "handlers", [])
            if isinstance(h, PrefectConsoleHandler | APILogHandler)]


def escape_controls_in_logs() -> None:
    """Every Prefect log handler (console, API/UI) escapes control characters."""
    for handler in _prefect_handlers():
        if _escape_controls not in handler.filters:
            handler.addFilter(_escape_controls)


def quiet_user_errors_on_console() -> None:
    """A bad input ends the run with one clear line from the CLI; keep Prefect's console
    from printing the same error again as a traceback (the UI still gets the full log)."""
    for handler in _prefect_handlers():
        if isinstance(handler, PrefectConsoleHandler):
            handler.addFilter(_not_a_user_error)


class PrefectStages:
    """Each stage a Prefect task (visible in the UI); generation one task per class."""

    def stage(self, name: str, fn: Callable[..., Any], *args: Any) -> Any:
        # quote(): the arguments are the whole dataset's objects; Prefect must not walk them
        # to record task inputs (which costs time proportional to their size).
        return task(fn, name=name, cache_policy=NO_CACHE)(*(quote(a) for a in args))

    def per_class(self, fn, items, key, workers):
        # The LLM client retries transport faults and invalid replies itself; a task retry
        # covers the rest (a full disk, a cache locked by a crashed run's leftovers).
        # Each task gets one small class and the build's key (corpus.sources.SourcesKey),
        # never the dataset-sized sources: its cost does not grow with the dataset.
        generate = task(fn, name="generate-subtexts", cache_policy=NO_CACHE, retries=2,
                        retry_delay_seconds=2, task_run_name="generate-{action.name}")
        futures = generate.map(items, unmapped(key))
        for fut in as_completed(futures):
            yield fut.result()

    def warn(self, message: str) -> None:
        get_run_logger().warning(message)

    def publish(self, scored: list[ScoredClass], tpp: dict) -> None:
        # The UI renders these cells: sub-texts and reasons come from endpoints and files.
        rows = []
        for s in scored:
            sel = s.selected
            rows.append({
                "class": printable(s.action.name, keep=""),
                "source": printable(sel.candidate.source if sel else "FAILED", keep=""),
                "tpp": round(sel.tpp, 3) if sel else None,
                "subtexts": printable(" | ".join(sel.candidate.subtexts) if sel else "; ".join(
                    f.reason[:120] for f in s.failures), keep=""),
            })
        create_table_artifact(key="selected-subtexts", table=rows,
                              description="Per class: the TPP-selected candidate set")
        create_table_artifact(
            key="tpp-by-source",
            table=[{"source": printable(k, keep=""), "mean_tpp": round(v, 3),
                    "valid_sets": tpp["valid_by_source"].get(k, 0),
                    "selected": tpp["selected_by_source"].get(k, 0)}
                   for k, v in tpp["mean_by_source"].items()],
            description="Mean TPP of valid candidate sets per source (model × prompt)",
        )


@flow(name="build-corpus", log_prints=True, task_runner=ThreadPoolTaskRunner(max_workers=4))
def build_corpus(dataset: str, out: str | None = None, classes: int | None = None,
                 config: str | None = None, clip: str | None = None,
                 pretrained: str | None = None, import_format: str | None = None,
                 import_file: str | None = None, import_mapping: str = "auto",
                 import_on_long: str = "keep", import_n: int | None = None) -> dict:
    """Build a TPP-selected sub-text corpus bundle for a dataset's class list."""
    escape_controls_in_logs()  # also when the UI starts the flow, not the CLI
    stages = PrefectStages()
    # Planning reads the class list, the config and the input files: the first task in the UI.
    plan = stages.stage("load-classes", plan_build,
                        BuildRequest(dataset, out, classes, config, clip, pretrained,
                                     import_format, import_file, import_mapping,
                                     import_on_long, import_n))
    return pipeline.build(plan, stages)


def _threads(workers: int, address: str | None) -> ThreadPoolTaskRunner:
    if address:
        raise SubtextError("--task-runner thread takes no address")
    return ThreadPoolTaskRunner(max_workers=max(1, workers))


def _dask(workers: int, address: str | None):
    """prefect-dask's runner: the per-class tasks on the cluster at `address`, or on a
    LocalCluster of worker processes. The whole-dataset stages and the bundle's one writer
    stay in the flow's process (docs/scale-out.md)."""
    try:
        from prefect_dask import DaskTaskRunner
    except ModuleNotFoundError:
        raise SubtextError("--task-runner dask needs prefect-dask: pip install "
                           "'subtext[dask]'") from None
    if address:
        return DaskTaskRunner(address=address)
    return DaskTaskRunner(cluster_kwargs={"processes": True, "threads_per_worker": 1,
                                          "dashboard_address": None})


# `--task-runner NAME[=ADDRESS]`: how the per-class tasks run.
TASK_RUNNERS: dict[str, Callable[[int, str | None], Any]] = {"thread": _threads, "dask": _dask}


def task_runner(spec: str, workers: int):
    """A runner from `--task-runner` (`thread`, `dask`, `dask=tcp://host:8786`)."""
    name, _, address = spec.partition("=")
    if name not in TASK_RUNNERS:
        raise SubtextError(f"--task-runner {spec}: unknown runner {name!r}; choose one of "
                           f"{', '.join(TASK_RUNNERS)} (dask takes =ADDRESS)")
    return TASK_RUNNERS[name](workers, address or None)


def run_flow(request: BuildRequest, workers: int, runner: str = "thread") -> dict:
    """The flow with as many generation workers as the endpoints can serve at once, so
    classes finish (and the progress bar moves) one after another, not all at the end."""
    quiet_user_errors_on_console()
    escape_controls_in_logs()
    chosen = task_runner(runner, workers)
    return build_corpus.with_options(task_runner=chosen)(**vars(request))
