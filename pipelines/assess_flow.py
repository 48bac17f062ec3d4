"""The intrinsic assessment as a Prefect flow: `corpus.assess.assess_bundle` as one task,
then the summary table and the plots' paths published as artifacts for the UI. The
zero-shot flow (pipelines/zeroshot_flow.py) publishes its report with the same helper.

Like the build flow it runs on Prefect's ephemeral API unless PREFECT_API_URL points at a
server (`make ui`).
"""

from pathlib import Path

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from corpus.assess import assess_bundle
from corpus.assess.report import pct, summary_table
from pipelines.corpus_flow import escape_controls_in_logs, quiet_user_errors_on_console


def summary_rows(a: dict) -> list[dict]:
    """The summary table as rows for a table artifact (the TPP encoder's retrieval)."""
    enc = a["tpp_encoder"]
    rows = []
    for s in a["sources"]:
        r = s["retrieval"][enc]
        rows.append({
            "source": s["source"], "valid_sets": s["valid_sets"],
            "coverage_pct": pct(s["coverage"]["rate"]), "top1_pct": pct(r["top1"]),
            "top5_pct": pct(r["top5"]), "set_top1_pct": pct(r["set_top1"]),
            "confusable_classes": r["confusable_classes"], "echo_pct": pct(s["echo_rate"]),
            "near_duplicate_pct": pct(s["near_duplicate_rate"]),
            **{f"truncated_{name.split(' ')[0].lower()}": t["truncated"]
               for name, t in s["tokens"].items()},
        })
    return rows


def report_artifact(key: str, lines: list[str], out: str | Path, files: list[str],
                    description: str):
    """A Markdown artifact: the report's lines, then where the report and its plots lie
    (the UI shows text; the plots stay files beside the report)."""
    plots = [f for f in files if str(f).endswith(".png")]
    return create_markdown_artifact(
        key=key, description=description,
        markdown="\n".join([*lines, "", f"Report: `{Path(out).resolve() / 'report.md'}`", "",
                            "Plots:", *[f"- `{Path(p).resolve()}`" for p in plots]]))


def publish(result: dict) -> list:
    a = result["assessment"]
    table = create_table_artifact(
        key="text-assessment-summary", table=summary_rows(a),
        description=f"Intrinsic assessment of {a['bundle']} ({a['classes']} classes, "
                    f"retrieval by {a['tpp_encoder']}, chance top-1 {pct(a['chance']['top1'])} %)")
    report = report_artifact(
        "text-assessment-report",
        [f"# Intrinsic assessment of `{a['bundle']}`", "", *summary_table(a)], result["out"],
        result["files"], "Summary table and the paths of the report and plots")
    return [table, report]


@flow(name="assess-corpus", log_prints=True)
def assess_corpus(bundle: str, out: str | None = None, against: str | None = None) -> dict:
    """Intrinsic, video-free assessment of every text source of a bundle."""
    escape_controls_in_logs()  # the report prints class names and sub-texts
    run = task(assess_bundle, name="assess-text", cache_policy=NO_CACHE)
    result = run(Path(bundle), Path(out) if out else None, Path(against) if against else None,
                 print)
    publish(result)
    return result


def run_assess_flow(bundle: str, out: str | None = None, against: str | None = None) -> dict:
    quiet_user_errors_on_console()
    return assess_corpus(bundle, out, against)
