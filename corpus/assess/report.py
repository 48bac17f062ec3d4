"""The intrinsic assessment as a person reads it: report.md, assessment.json and plots."""

import json
import os
from pathlib import Path

REPORT = "report.md"
ASSESSMENT = "assessment.json"
PLOTS = ("retrieval.png", "quality.png", "tokens.png")


def pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}"


def short(encoder_id: str) -> str:
    return "MiniLM" if encoder_id.startswith("minilm") else encoder_id.removeprefix("open_clip-")


def summary_table(a: dict) -> list[str]:
    """One row per source: the table `make assess`, `corpus show --assessment` and the
    README print."""
    encoders = [e["id"] for e in a["encoders"]]
    tokenizers = list(a["token_limits"])
    head = ["source", "valid sets", "coverage %"]
    for enc in encoders:
        head += [f"top-1 % ({short(enc)})", f"top-5 % ({short(enc)})",
                 f"set top-1 % ({short(enc)})", f"confusable ({short(enc)})"]
    head += ["echo %", "near-dup %"]
    head += [f"> {a['token_limits'][t]} tok ({t.split(' ')[0]})" for t in tokenizers]
    head += ["mean TPP"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for s in a["sources"]:
        cells = [s["source"], f"{s['valid_sets']}/{s['sets']}", pct(s["coverage"]["rate"])]
        for enc in encoders:
            r = s["retrieval"][enc]
            cells += [pct(r["top1"]), pct(r["top5"]), pct(r["set_top1"]),
                      str(r["confusable_classes"])]
        cells += [pct(s["echo_rate"]), pct(s["near_duplicate_rate"])]
        cells += [str(s["tokens"][t]["truncated"]) for t in tokenizers]
        cells += ["–" if s["mean_tpp"] is None else f"{s['mean_tpp']:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(f"{a['classes']} classes: chance is {pct(a['chance']['top1'])} % top-1, "
                 f"{pct(a['chance']['top5'])} % top-5.")
    return lines


def comparison_table(c: dict) -> list[str]:
    enc = c["encoders"][0] if c["encoders"] else None
    lines = [f"A = `{c['a']}`, B = `{c['b']}`" + (f"; retrieval by {short(enc)}" if enc else ""),
             "", "| source | in | top-1 % A | top-1 % B | Δ | set top-1 % A | set top-1 % B | Δ | "
             "echo % A | echo % B | coverage % A | coverage % B |", "|" + "---|" * 12]

    def d(x):
        return "–" if x is None else f"{100 * x:+.1f}"
    for r in c["sources"]:
        t1 = r.get(f"{enc}:top1", {"a": None, "b": None, "delta": None})
        s1 = r.get(f"{enc}:set_top1", {"a": None, "b": None, "delta": None})
        lines.append(
            f"| {r['source']} | {r['in']} | {pct(t1['a'])} | {pct(t1['b'])} | {d(t1['delta'])} | "
            f"{pct(s1['a'])} | {pct(s1['b'])} | {d(s1['delta'])} | {pct(r['echo_rate']['a'])} | "
            f"{pct(r['echo_rate']['b'])} | {pct(r['coverage']['a'])} | {pct(r['coverage']['b'])} |")
    return lines


def markdown(a: dict, comparison: dict | None = None) -> str:
    weights = ", ".join(f"{short(e['id'])} ({e['weights']} weights)" for e in a["encoders"])
    lines = [
        f"# Intrinsic assessment of `{a['bundle']}`",
        "",
        f"Dataset {a['dataset']}, {a['classes']} classes; assessed {a['assessed_at']} with "
        f"{weights}; no video is involved (docs/assess.md).",
    ]
    lines += [f"Left out: {s['id']} ({s['reason']})" for s in a["skipped_encoders"]]
    lines += ["", "## Summary", "", *summary_table(a), "",
              "- **top-1 / top-5**: share of the source's sub-texts (of valid sets) whose own "
              "class text is the nearest / among the 5 nearest class texts; **set top-1**: "
              "the same for each set's mean direction.",
              "- **confusable**: classes whose sets point nearer to another class's text than "
              "to their own.",
              f"- **echo**: sub-texts that add no content word beyond the class label and the "
              f"actor, or are at least as close to the class text as "
              f"\"{a['echo_reference_template']}\" with the label filled in.",
              f"- **near-dup**: sub-texts with a sibling in their set at cosine ≥ "
              f"{a['near_duplicate_cosine']} (the bundle's `tpp.near_duplicate_cosine`) or "
              "word overlap ≥ 0.8. Echo and near-dup count every set a source produced, "
              "rejected ones included; retrieval counts valid sets.",
              "- **> N tok**: strings longer than the encoder's context (tokens with the "
              "special ones); the encoder truncates them."]
    if any(e["weights"] == "random" for e in a["encoders"]):
        lines += ["", "**Random weights**: numbers from a random-weight encoder are plumbing, "
                      "not evidence about the text."]
    if comparison:
        lines += ["", "## Against another bundle", "", *comparison_table(comparison)]
    lines += ["", "## Most confusable classes", ""]
    for s in a["sources"]:
        for enc, r in s["retrieval"].items():
            if r["worst_confusions"]:
                worst = "; ".join(f"{w['class']} → {w['nearer_to']} (+{w['margin']:.3f})"
                                  for w in r["worst_confusions"])
                lines.append(f"- {s['source']} ({short(enc)}): {worst}")
    lines += ["", "## Coverage and rejected sets", ""]
    for s in a["sources"]:
        cov = s["coverage"]
        missing = (f"; no valid set for {cov['n_missing']}: {', '.join(cov['missing'])}"
                   + (" …" if cov["n_missing"] > len(cov["missing"]) else "")
                   if cov["n_missing"] else "")
        rejected = ", ".join(f"{k} ×{v}" for k, v in s["rejected"].items())
        lines.append(f"- {s['source']}: {cov['classes']}/{cov['of']} classes{missing}"
                     + (f"; rejected: {rejected}" if rejected else ""))
    lines += ["", "## Tokens against each encoder's context", "",
              "| source | tokenizer | context | mean | max | truncated |",
              "|---|---|---|---|---|---|"]
    for s in a["sources"]:
        for name, t in s["tokens"].items():
            mean = "–" if t["mean"] is None else f"{t['mean']:.1f}"
            lines.append(f"| {s['source']} | {name} | {t['context']} | {mean} | "
                         f"{t['max'] if t['max'] is not None else '–'} | {t['truncated']} |")
    k = a["knowledge"]
    lines += ["", "## Semantic units and entities", "",
              f"- {k['units']} units; classes without any: {len(k['classes_without_units'])}"
              + (f" ({', '.join(k['classes_without_units'][:10])})"
                 if k["classes_without_units"] else ""),
              f"- {k['entities']} entities; without a description: "
              f"{k['entities_without_description']} (still needing one: "
              f"{k['entities_needing_description']})"
              + (f", e.g. {', '.join(k['entities_without_description_examples'][:10])}"
                 if k["entities_without_description"] else ""),
              f"- classes without entities: {len(k['classes_without_entities'])}"]
    for name, t in k["entity_tokens"].items():
        lines.append(f"- entity texts, {name}: max {t['max']} tokens, {t['truncated']} over "
                     f"{t['context']}")
    lines += ["", "## Plots", "", *[f"![{p}]({p})" for p in PLOTS], ""]
    return "\n".join(lines)


def plots(a: dict, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [s["source"] for s in a["sources"]]
    y = list(range(len(names)))
    height = 1.2 + 0.35 * len(names)
    paths = []

    encoders = [e["id"] for e in a["encoders"]]
    fig, axes = plt.subplots(1, len(encoders), figsize=(7.5 * len(encoders), height), squeeze=False)
    for ax, enc in zip(axes[0], encoders, strict=True):
        for offset, key in ((-0.2, "top1"), (0.2, "top5")):
            vals = [100 * (s["retrieval"][enc][key] or 0) for s in a["sources"]]
            ax.barh([v + offset for v in y], vals, height=0.4, label=key.replace("top", "top-"))
        ax.axvline(100 * a["chance"]["top1"], color="k", ls=":", label="chance top-1")
        ax.axvline(100 * a["chance"]["top5"], color="grey", ls=":", label="chance top-5")
        ax.set_yticks(y, names, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel(f"sub-text → class retrieval, % ({short(enc)})")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    paths.append(_save(fig, out / PLOTS[0]))

    fig, ax = plt.subplots(figsize=(7.5, height))
    for offset, key, label in ((-0.2, "echo_rate", "echo"),
                               (0.2, "near_duplicate_rate", "near-duplicate")):
        ax.barh([v + offset for v in y], [100 * (s[key] or 0) for s in a["sources"]],
                height=0.4, label=label)
    ax.set_yticks(y, names, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("% of sub-texts")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    paths.append(_save(fig, out / PLOTS[1]))

    tokenizers = list(a["token_limits"])
    fig, axes = plt.subplots(1, len(tokenizers), figsize=(6.5 * len(tokenizers), height),
                             squeeze=False)
    for ax, name in zip(axes[0], tokenizers, strict=True):
        ax.barh(y, [s["tokens"][name]["max"] or 0 for s in a["sources"]], color="tab:red",
                alpha=0.5, label="max")
        ax.barh(y, [s["tokens"][name]["mean"] or 0 for s in a["sources"]], color="tab:blue",
                label="mean")
        ax.axvline(a["token_limits"][name], color="k", ls="--", label="context")
        ax.set_yticks(y, names, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel(f"tokens ({name})")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    paths.append(_save(fig, out / PLOTS[2]))
    return paths


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp")
    fig.savefig(tmp, dpi=110, format="png")
    os.replace(tmp, path)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_outputs(a: dict, out: Path, comparison: dict | None = None) -> list[Path]:
    """report.md, assessment.json (with the comparison when given) and the plots in `out`;
    each file replaced whole, so an interrupted run leaves the previous one readable."""
    out.mkdir(parents=True, exist_ok=True)
    record = {**a, "against": comparison}
    _write_text(out / ASSESSMENT, json.dumps(record, indent=2, ensure_ascii=False))
    _write_text(out / REPORT, markdown(a, comparison))
    return [out / REPORT, out / ASSESSMENT, *plots(a, out)]
