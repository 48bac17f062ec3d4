"""`subtext` — the command line. Errors a user can act on print one clear line, exit 2.

Exit codes of `corpus build` and `corpus import`: 0 every class done, 1 some class failed
(rerun to retry transient failures), 2 bad input (docs/reliability.md).

The one edge where user input enters: commands parse arguments and call the library
(`corpus`), the Prefect flow (`pipelines.corpus_flow`) or the learner (`model`); nothing
in those packages imports this module. Heavy imports happen inside each command, so
`subtext --help` and an up-to-date check load no model.
"""

import argparse
import json
import sys
from pathlib import Path

from contract import file_sha256
from corpus.errors import SubtextError
from corpus.printable import printable
from pipelines.prefect_settings import configure_prefect_defaults


def say(text: object = "", err: bool = False) -> None:
    """Print for a person: names, sub-texts and messages come from files and endpoints, so
    control characters are shown escaped (corpus.printable); an error stays one line."""
    print(printable(text, keep="" if err else "\n\t"), file=sys.stderr if err else sys.stdout)


def _print_summary(summary: dict) -> None:
    say(f"bundle: {summary['bundle']}")
    say(f"classes: {summary['classes_ok']} done, {summary['classes_failed']} failed")
    if summary.get("short_sets_valid"):
        say(f"short sets (fewer than N sub-texts, marked `short`): "
            f"{summary['short_sets_valid']} valid, {summary['short_sets_selected']} selected")
    if summary.get("subtexts_cut"):
        say(f"on_long truncate: {summary['subtexts_cut']} sub-text(s) cut to fit CLIP's 77 "
            "tokens and 200 characters (subtexts.parquet n_tokens_before_cut)")
    if summary.get("sets_rejected_long"):
        say(f"on_long reject: {summary['sets_rejected_long']} set(s) rejected for a sub-text "
            "over 77 CLIP tokens or 200 characters (subtexts.parquet rejected_reason)")
    if summary.get("class_text_augmentations"):
        say(f"class-text augmentations (one sentence, marked `class_text`): "
            f"{summary['class_text_augmentations']}")
    say(f"TPP encoder: {summary['tpp_encoder']}")
    for source, mean in summary["mean_tpp_by_source"].items():
        chosen = summary["selected_by_source"].get(source, 0)
        say(f"  mean TPP {mean:8.3f}  selected {chosen:4d}  {source}")
    say(f"LLM calls: {summary['llm_calls']} made, {summary['llm_cache_hits']} from cache")
    embedded = summary.get("embedded_llm")
    if embedded:
        names = ", ".join(embedded["classes"][:8]) + (" …" if embedded["n_classes"] > 8 else "")
        say(f"embedded LLM: {embedded['n_classes']} class(es) ({embedded['why']})"
              + (f": {names}" if names else ""))
    say(f"time: {summary['wall_s']:.1f} s")


def _request(args: argparse.Namespace):
    from corpus.plan import BuildRequest

    return BuildRequest(args.dataset, args.out, args.classes, args.config, args.clip,
                        args.pretrained, getattr(args, "import_format", None),
                        getattr(args, "import_file", None),
                        getattr(args, "mapping", "auto"), getattr(args, "on_long", "keep"),
                        getattr(args, "import_n", None))


def _exit_code(summary: dict, out: Path) -> int:
    """0 every class done, 1 some class failed (2, bad input, comes from main)."""
    from corpus.plan import transient_failures

    pending = transient_failures(out)
    if pending:
        say(f"transient failures in {len(pending)} class(es): build again (without "
            "--no-retry-failed) to retry them")
    return 1 if summary["classes_failed"] else 0


def cmd_build(args: argparse.Namespace) -> int:
    from corpus.manifest import summary
    from corpus.plan import plan_build, transient_failures, up_to_date

    request = _request(args)
    plan = plan_build(request)
    existing = None if args.force else up_to_date(plan)
    retry = transient_failures(plan.out) if existing is not None and args.retry_failed else []
    if retry:
        say(f"retrying: {plan.out} has {len(retry)} class(es) whose text failed transiently "
              "(unreachable endpoint, timeout, 5xx, 429); the rest replay from the LLM cache")
    elif existing is not None:
        say(f"up to date: {plan.out} was built from the same inputs (use --force to rebuild)")
        result = summary(plan.out, existing, up_to_date=True)
        _print_summary(result)
        return _exit_code(result, plan.out)
    for endpoint in plan.cfg.llm_endpoints():
        endpoint.api_key()  # a missing key fails here, before anything starts
    try:
        if args.plain:
            from corpus.pipeline import build

            if args.task_runner != "thread":
                raise SubtextError("--task-runner needs Prefect; drop --plain")
            result = build(plan)
        else:
            from pipelines.corpus_flow import run_flow

            result = run_flow(request, sum(e.concurrency for e in plan.cfg.llm_endpoints()),
                              args.task_runner)
    except ModuleNotFoundError as err:
        extra = "corpus" if args.plain else "corpus,pipelines"
        raise SubtextError(f"building a bundle needs {err.name!r}, which this environment "
                           f"lacks: pip install 'subtext[{extra}]' (a learner-only install "
                           "trains on bundles built elsewhere)") from None
    _print_summary(result)
    return _exit_code(result, plan.out)


def cmd_verify(args: argparse.Namespace) -> int:
    from corpus.verify import verify_bundle

    problems = verify_bundle(Path(args.bundle))
    for p in problems:
        say(f"{args.bundle}: {p}", err=True)
    if problems:
        say(f"FAILED: {len(problems)} problem(s)", err=True)
        return 1
    say(f"ok: {args.bundle} is intact (checksums, schema, counts, cross-references)")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    if args.assessment is not None:
        from corpus.assess import assessment_summary

        print(assessment_summary(Path(args.bundle), args.assessment or None))
        return 0
    from corpus.show import show

    say(show(Path(args.bundle), args.cls))
    return 0


def cmd_assess(args: argparse.Namespace) -> int:
    from corpus.assess.report import comparison_table, summary_table

    against = Path(args.against) if args.against else None
    out = Path(args.output) if args.output else None
    if args.plain:
        from corpus.assess import assess_bundle

        result = assess_bundle(Path(args.bundle), out, against)
    else:
        from pipelines.assess_flow import run_assess_flow

        result = run_assess_flow(args.bundle, args.output, args.against)
    print("\n".join(summary_table(result["assessment"])))
    if result["against"]:
        print("\n" + "\n".join(comparison_table(result["against"])))
    print(f"report: {result['out']}/report.md")
    return 0


def cmd_embed(args: argparse.Namespace) -> int:
    from corpus.config import ClipEncoder
    from corpus.embed import embed_bundle

    info = embed_bundle(Path(args.bundle), ClipEncoder(model=args.clip, pretrained=args.pretrained,
                                                       seed=args.seed))
    say(f"added {info['file']} ({info['weights']} weights, dim {info['dim']}) "
          f"to {args.bundle}")
    return 0


def cmd_pack(args: argparse.Namespace) -> int:
    from corpus.share import pack_bundle

    out = pack_bundle(Path(args.bundle), Path(args.output))
    say(f"packed {args.bundle} -> {out} (sha256 {file_sha256(out)})")
    return 0


def cmd_unpack(args: argparse.Namespace) -> int:
    from corpus.share import unpack_bundle

    out = unpack_bundle(Path(args.archive), Path(args.output), overwrite=args.force)
    say(f"unpacked and verified: {out}")
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    from corpus.share import diff_bundles, diff_is_empty, render_diff

    diff = diff_bundles(Path(args.a), Path(args.b))
    say(json.dumps(diff, indent=2) if args.json else render_diff(diff, top=args.top))
    return 1 if args.exit_code and not diff_is_empty(diff) else 0


def cmd_import(args: argparse.Namespace) -> int:
    from corpus.classes import load_class_list
    from corpus.formats import load_import

    # Read, map and check the file first: a bad file stops here, before the build touches -o.
    report = load_import(args.format, Path(args.file), load_class_list(args.dataset),
                         args.n, mapping=args.mapping, on_long=args.on_long).report
    say(report.render())
    if not report.classes_with_sets and not report.short_sets:
        raise SubtextError(f"import file {args.file}: no class has a set of 2 or more "
                           f"sub-texts, so the build would select nothing; nothing was "
                           f"written to {args.out}. A file of one sentence per class adds "
                           "class-text augmentations to a build: list it under `imports:` "
                           "in a config beside a sub-text source")
    args.import_format, args.import_file, args.import_n = report.format, args.file, args.n
    args.clip = args.pretrained = None
    args.classes, args.force, args.config, args.retry_failed = None, True, None, True
    args.task_runner = "thread"
    return cmd_build(args)


def cmd_export(args: argparse.Namespace) -> int:
    from corpus.formats.export import export_bundle

    n = export_bundle(Path(args.bundle), args.format, Path(args.output), args.source,
                      args.selected_only)
    say(f"wrote {args.output} ({args.format}): {n} classes")
    return 0


def cmd_lint_curated(args: argparse.Namespace) -> int:
    from corpus.classes import load_class_list
    from corpus.config import ClipEncoder
    from corpus.curated import curated_path, load_curated
    from corpus.curated_lint import gate_encoders, lint_dataset, render
    from corpus.curation import write_curation

    datasets = args.datasets or sorted(
        p.stem for p in curated_path("x").parent.glob("*.jsonl"))
    if bool(args.clip) != bool(args.pretrained):
        raise SubtextError("lint-curated: --clip and --pretrained go together")
    clip = ClipEncoder(model=args.clip, pretrained=args.pretrained) if args.clip else None
    encoders = [] if args.no_gate else gate_encoders(clip)
    reports, failed = [], 0
    for dataset in datasets:
        curated = load_curated(dataset)
        result = lint_dataset(curated, load_class_list(dataset), encoders)
        for problems in result.problems.values():
            for p in problems:
                say(f"{dataset}: {render(p)}", err=True)
        n = sum(len(ps) for ps in result.problems.values())
        exempt = result.report()["exempt"]
        say(f"{dataset}: {'ok' if result.ok else f'{n} problem(s)'} "
              f"({len(result.problems)} rules"
              + (f"; exempt: {', '.join(exempt)}" if exempt else "") + ")")
        for g in result.gates:
            s = g.summary()
            rates = ", ".join(f"{p} {r:.0%}"
                              for p, r in s["own_class_nearest_name_rate"].items())
            say(f"  gate [{s['encoder']}]: {s['sets_checked']} sets, "
                  f"{s['sibling_pairs_checked']} sibling pairs, "
                  f"sets pass {s['set_pass_rate']:.1%}, "
                  f"sub-texts in top {s['k']} {s['subtext_pass_rate']:.1%}; "
                  f"own-class nearest name: {rates}")
        if args.write_records:
            if not encoders:
                raise SubtextError("lint-curated --write-records needs the gate (drop --no-gate)")
            say(f"  wrote {write_curation(curated, result)}")
        reports.append(result.report())
        failed += not result.ok
    if args.json:
        Path(args.json).write_text(json.dumps({"datasets": reports}, indent=2) + "\n")
    return 1 if failed else 0


def _corpus_commands(sub: argparse._SubParsersAction) -> None:
    from corpus.formats import FORMATS

    b = sub.add_parser("build", help="build a corpus bundle for a dataset")
    b.add_argument("--dataset", required=True,
                   help="built-in dataset (hmdb51, ucf101, kinetics400, …) or a classes.csv path")
    b.add_argument("--classes", type=int, default=None, help="only the first N classes")
    b.add_argument("--out", default=None, help="bundle directory (default artifacts/corpora/DS)")
    b.add_argument("--config", default=None, help="YAML config (default data/configs/default.yaml)")
    b.add_argument("--clip", default=None, help="add an open_clip text encoder, e.g. ViT-B-32")
    b.add_argument("--pretrained", default=None,
                   help="its weights: a tag (networked), a checkpoint path, or 'random'")
    b.add_argument("--force", action="store_true", help="rebuild even if up to date")
    b.add_argument("--retry-failed", action=argparse.BooleanOptionalAction, default=True,
                   help="rebuild a bundle of the same inputs whose failures were transient "
                        "(unreachable endpoint, timeout, 5xx, 429); default on")
    b.add_argument("--plain", action="store_true",
                   help="run the stages in this process without Prefect (no UI, same bundle)")
    b.add_argument("--task-runner", default="thread", metavar="thread|dask[=ADDRESS]",
                   help="where the per-class tasks run: threads here (default), or Dask "
                        "workers (a LocalCluster, or the scheduler at ADDRESS)")
    b.set_defaults(func=cmd_build)

    v = sub.add_parser("verify", help="check checksums, schema, counts and cross-references")
    v.add_argument("bundle")
    v.set_defaults(func=cmd_verify)

    s = sub.add_parser("show", help="print a bundle's summary or one class's text knowledge")
    s.add_argument("bundle")
    s.add_argument("--class", dest="cls", default=None, help="class name or id")
    s.add_argument("--assessment", nargs="?", const="", default=None, metavar="PATH",
                   help="print the summary of `corpus assess` (default <bundle>.assessment/)")
    s.set_defaults(func=cmd_show)

    a = sub.add_parser("assess", help="intrinsic, video-free assessment of every text "
                       "source of a bundle (docs/assess.md)")
    a.add_argument("bundle")
    a.add_argument("--against", default=None, help="a second bundle of the same classes, "
                   "compared source by source")
    a.add_argument("-o", "--output", default=None,
                   help="output directory (default <bundle>.assessment/ beside the bundle)")
    a.add_argument("--plain", action="store_true", help="run without Prefect (no artifacts)")
    a.set_defaults(func=cmd_assess)

    e = sub.add_parser("embed", help="add or replace one CLIP encoder's embeddings")
    e.add_argument("bundle")
    e.add_argument("--clip", required=True, help="open_clip model name, e.g. ViT-B-16")
    e.add_argument("--pretrained", required=True, help="a tag, a checkpoint path, or 'random'")
    e.add_argument("--seed", type=int, default=0, help="seed for random weights")
    e.set_defaults(func=cmd_embed)

    p = sub.add_parser("pack", help="write one deterministic, verified archive of a bundle")
    p.add_argument("bundle")
    p.add_argument("-o", "--output", required=True, help="archive file (.tar.gz)")
    p.set_defaults(func=cmd_pack)

    u = sub.add_parser("unpack", help="verify and unpack a bundle archive")
    u.add_argument("archive")
    u.add_argument("-o", "--output", required=True, help="bundle directory to create")
    u.add_argument("--force", action="store_true", help="replace an existing bundle there")
    u.set_defaults(func=cmd_unpack)

    d = sub.add_parser("diff", help="what changed between two bundles")
    d.add_argument("a")
    d.add_argument("b")
    d.add_argument("--json", action="store_true", help="machine-readable output")
    d.add_argument("--top", type=int, default=10, help="how many per-class changes to list")
    d.add_argument("--exit-code", action="store_true", help="exit 1 when the bundles differ")
    d.set_defaults(func=cmd_diff)

    i = sub.add_parser("import", help="bring in text knowledge released by another project")
    i.add_argument("--format", default=None, choices=sorted(FORMATS),
                   help="the file's format (default: detected, and the report says which)")
    i.add_argument("--dataset", required=True, help="class list the file is mapped onto")
    i.add_argument("file")
    i.add_argument("-o", "--out", required=True, help="bundle directory")
    i.add_argument("--n", type=int, default=4, help="sub-texts per candidate set")
    i.add_argument("--plain", action="store_true", help="build without Prefect")
    how = i.add_mutually_exclusive_group()
    how.add_argument("--by-index", dest="mapping", action="store_const", const="index",
                     help="map entries by class index only (even where their names disagree)")
    how.add_argument("--by-name", dest="mapping", action="store_const", const="name",
                     help="map entries by the class names they give only")
    i.add_argument("--on-long", choices=["keep", "truncate", "reject"], default="keep",
                   help="descriptions over CLIP's 77 tokens or 200 characters (default keep)")
    i.set_defaults(func=cmd_import, mapping="auto")

    x = sub.add_parser("export", help="write a bundle's text as OST, CuPL, FROSTER or CSV")
    x.add_argument("bundle")
    x.add_argument("--format", required=True, choices=sorted(FORMATS))
    x.add_argument("-o", "--output", required=True, help="file to write")
    x.add_argument("--source", default=None, help="only this source's sets (a source id)")
    x.add_argument("--selected-only", action="store_true",
                   help="only the set TPP selected for each class")
    x.set_defaults(func=cmd_export)

    lint = sub.add_parser("lint-curated", help="check data/curated/*.jsonl against the rules")
    lint.add_argument("datasets", nargs="*", help="datasets (default: every curated file)")
    lint.add_argument("--json", metavar="OUT", default=None, help="write the report as JSON")
    lint.add_argument("--no-gate", action="store_true",
                      help="skip the discrimination gate (no sentence encoder)")
    lint.add_argument("--clip", default=None, help="gate with this open_clip model too")
    lint.add_argument("--pretrained", default=None, help="its real weights (a checkpoint path)")
    lint.add_argument("--write-records", action="store_true",
                      help="write data/curated/<dataset>.curation.json from this run")
    lint.set_defaults(func=cmd_lint_curated)


def cmd_eval_zeroshot(args: argparse.Namespace) -> int:
    from model.assess.zeroshot import assess, run
    from model.errors import LearnerError

    if args.plain:
        runner = assess
    else:
        from pipelines.zeroshot_flow import run_zeroshot_flow as runner
    try:
        return run(args, runner)
    except LearnerError as err:
        say(f"error: {err}", err=True)
        return 2


def _eval_commands(sub: argparse._SubParsersAction) -> None:
    from model.assess.zeroshot import add_arguments

    z = sub.add_parser("zeroshot", help="training-free zero-shot of every text source in "
                       "bundles on frozen video features, with controls (docs/assess.md)")
    add_arguments(z)
    z.add_argument("--plain", action="store_true", help="run without Prefect (no artifacts)")
    z.set_defaults(func=cmd_eval_zeroshot)


def parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="subtext", description=__doc__.split("\n")[0])
    groups = top.add_subparsers(dest="group", required=True)
    corpus = groups.add_parser("corpus", help="build and inspect text-knowledge bundles")
    _corpus_commands(corpus.add_subparsers(dest="command", required=True))
    evaluation = groups.add_parser("eval", help="assess text on video features (the learner)")
    eval_commands = evaluation.add_subparsers(dest="command", required=True)
    # The learner's options import torch (seconds and ~1 GB): only for `subtext eval …`,
    # so a corpus command, an up-to-date check above all, stays light.
    if (sys.argv[1:] if argv is None else argv)[:1] == ["eval"]:
        _eval_commands(eval_commands)
    return top


def main(argv: list[str] | None = None) -> int:
    configure_prefect_defaults()
    args = parser(argv).parse_args(argv)
    if getattr(args, "clip", None) and args.command == "build" and not args.pretrained:
        say("error: --clip needs --pretrained (a tag, a path, or 'random')", err=True)
        return 2
    try:
        return args.func(args)
    except SubtextError as err:
        say(f"error: {err}", err=True)
        return 2
    except KeyboardInterrupt:
        say("interrupted: caches keep everything done so far; rerun to resume", err=True)
        return 130


if __name__ == "__main__":
    sys.exit(main())
