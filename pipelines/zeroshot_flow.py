"""The training-free zero-shot assessment as a Prefect flow: `model.assess.zeroshot.assess`
as one task, then what a person reads published as artifacts for the UI (docs/assess.md):

- `zeroshot-assessment-report`: the Markdown report, with the paths of report.md and plots;
- `zeroshot-assessment-sources`: every text of every bundle with its control bands
  (top-1 mean ± std over seeds) and flags ("no class-specific signal", …);
- `zeroshot-class-changes`: each source's biggest per-class gains and losses against the
  class names;
- `zeroshot-tpp-correlation`: TPP against accuracy (Pearson r, r² with its bootstrap
  interval, Spearman ρ).

Like the other flows it runs on Prefect's ephemeral API unless PREFECT_API_URL points at a
server (`make ui`); `subtext eval zeroshot --plain` runs the same assessment without Prefect.
"""

from pathlib import Path

from prefect import flow, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from model.assess.report import class_change_rows, correlation_rows, markdown, source_rows
from model.assess.zeroshot import assess
from pipelines.assess_flow import report_artifact
from pipelines.corpus_flow import escape_controls_in_logs, quiet_user_errors_on_console

PLOTS = ("sources.png", "tpp_vs_top1.png", "per_class_delta.png")


def publish(report: dict, out: str) -> list:
    where = (f"{report['videos']} videos of {report['classes']} classes from "
             f"{report['features']['path']}, encoder {report['encoder']['id']} "
             f"({report['encoder']['weights']} weights)")
    seeds = report["control_seeds"]
    return [
        report_artifact("zeroshot-assessment-report", markdown(report).splitlines(), out,
                        [str(Path(out) / p) for p in PLOTS],
                        f"Zero-shot assessment report: {where}"),
        create_table_artifact(
            key="zeroshot-assessment-sources",
            table=[r for b in report["bundles"] for r in source_rows(b)],
            description=f"Top-1 / top-5 / half-class top-1 (%) of every text, controls as "
                        f"mean ± std over {seeds} seeds, flags; {where}"),
        create_table_artifact(
            key="zeroshot-class-changes", table=class_change_rows(report),
            description="Each source's biggest per-class gains and losses (up to 10 each, "
                        "class+set against the class names), in points"),
        create_table_artifact(
            key="zeroshot-tpp-correlation", table=correlation_rows(report),
            description="Does TPP predict zero-shot accuracy? (the papers: r² = 0.79 over "
                        "11 sub-text groups)"),
    ]


@flow(name="assess-zeroshot", log_prints=True)
def assess_zeroshot(features: str, bundles: list[str], out: str, encoder: str | None = None,
                    seeds: int = 5, checkpoint: str | None = None,
                    use_encoder: bool = True) -> dict:
    """Training-free zero-shot of every text source of the bundles on frozen features."""
    escape_controls_in_logs()  # the report prints class and source names
    run = task(assess, name="zero-shot", cache_policy=NO_CACHE)
    report = run(features, bundles, out, encoder, seeds, checkpoint, use_encoder)
    publish(report, out)
    return report


def run_zeroshot_flow(features: str, bundles: list[str], out: str, encoder: str | None = None,
                      seeds: int = 5, checkpoint: str | None = None,
                      use_encoder: bool = True) -> dict:
    """`model.assess.zeroshot.assess`'s signature, run as the flow."""
    quiet_user_errors_on_console()
    return assess_zeroshot(features, bundles, out, encoder, seeds, checkpoint, use_encoder)
