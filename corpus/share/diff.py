"""`subtext corpus diff`: what changed between two bundles, as data and as text."""

from pathlib import Path

from corpus import store

# Differences below this are float noise from another BLAS, not a change of content.
TPP_TOLERANCE = 1e-9
# Manifest keys that differ between two builds of identical content.
_VOLATILE_ENCODER_KEYS = frozenset({"file"})


def diff_bundles(a: Path, b: Path) -> dict:
    """What changed from bundle `a` to bundle `b`: classes, selected sub-texts, TPP,
    encoders, sources, prompts and settings. Every list is empty for equal content."""
    ma, mb = store.read_manifest(Path(a)), store.read_manifest(Path(b))
    ca, cb = _classes(Path(a)), _classes(Path(b))
    added = [n for n in cb if n not in ca]
    removed = [n for n in ca if n not in cb]
    common = [n for n in cb if n in ca]
    selected, tpp_changes = [], []
    for name in common:
        old, new = ca[name], cb[name]
        if (old["status"], old["source"], old["subtexts"]) != \
                (new["status"], new["source"], new["subtexts"]):
            selected.append({"class": name, "old": _selection(old), "new": _selection(new)})
        if _tpp_changed(old["tpp"], new["tpp"]):
            tpp_changes.append({"class": name, "old": old["tpp"], "new": new["tpp"],
                                "delta": _delta(old["tpp"], new["tpp"])})
    tpp_changes.sort(key=lambda c: (-abs(c["delta"]) if c["delta"] is not None else 0.0,
                                    c["class"]))
    return {
        "a": str(a),
        "b": str(b),
        "settings": _settings_changes(ma, mb),
        "classes": {"added": added, "removed": removed, "common": len(common)},
        "selected": selected,
        "tpp": {
            "mean_by_source": _mean_changes(ma["tpp"].get("mean_by_source", {}),
                                            mb["tpp"].get("mean_by_source", {})),
            "dataset_mean": (None if not _tpp_changed(ma["tpp"].get("dataset_mean"),
                                                      mb["tpp"].get("dataset_mean"))
                             else {"old": ma["tpp"].get("dataset_mean"),
                                   "new": mb["tpp"].get("dataset_mean")}),
            "by_class": tpp_changes,
        },
        "encoders": _keyed_changes(ma["encoders"], mb["encoders"], _VOLATILE_ENCODER_KEYS,
                                   ma, mb),
        "sources": _keyed_changes(ma["sources"], mb["sources"], frozenset(), ma, mb),
        "prompts": _dict_changes(ma.get("prompts") or {}, mb.get("prompts") or {}),
    }


def diff_is_empty(diff: dict) -> bool:
    return not (diff["settings"] or diff["classes"]["added"] or diff["classes"]["removed"]
                or diff["selected"] or diff["tpp"]["mean_by_source"]
                or diff["tpp"]["dataset_mean"] or diff["tpp"]["by_class"]
                or any(diff["encoders"].values()) or any(diff["sources"].values())
                or diff["prompts"])


def _classes(bundle: Path) -> dict[str, dict]:
    """Per class name (ids may shift between class lists): status and the selected set."""
    classes = store.read_table(bundle, "classes.parquet").to_pylist()
    rows = store.read_table(bundle, "subtexts.parquet").to_pylist()
    chosen: dict[int, list[dict]] = {}
    for r in rows:
        if r["selected"]:
            chosen.setdefault(r["class_id"], []).append(r)
    out = {}
    for c in classes:
        sel = sorted(chosen.get(c["class_id"], []), key=lambda r: r["position"])
        out[c["name"]] = {
            "status": c["status"],
            "source": sel[0]["source"] if sel else None,
            "tpp": sel[0]["tpp"] if sel else None,
            "subtexts": tuple(r["text"] for r in sel),
        }
    return out


def _selection(entry: dict) -> dict:
    return {"status": entry["status"], "source": entry["source"], "tpp": entry["tpp"],
            "subtexts": list(entry["subtexts"])}


def _tpp_changed(old: float | None, new: float | None) -> bool:
    if old is None or new is None:
        return old is not new
    return abs(old - new) > TPP_TOLERANCE


def _delta(old: float | None, new: float | None) -> float | None:
    return None if old is None or new is None else new - old


def _mean_changes(old: dict, new: dict) -> list[dict]:
    out = []
    for source in sorted(set(old) | set(new)):
        o, n = old.get(source), new.get(source)
        if _tpp_changed(o, n):
            out.append({"source": source, "old": o, "new": n, "delta": _delta(o, n)})
    return out


def _settings_changes(ma: dict, mb: dict) -> list[dict]:
    def settings(m: dict) -> dict:
        ds, tpp = m.get("dataset", {}), m.get("tpp", {})
        return {
            "dataset": ds.get("name"), "class_list_sha256": ds.get("class_list_sha256"),
            "n_classes": ds.get("n_classes"), "class_template": m.get("class_template"),
            "n_subtexts": m.get("n_subtexts"), "tpp.encoder": tpp.get("encoder"),
            "tpp.alpha": tpp.get("alpha"), "tpp.beta": tpp.get("beta"),
            "tpp.epsilon": tpp.get("epsilon"),
            "tpp.near_duplicate_cosine": tpp.get("near_duplicate_cosine"),
            "tpp.selection": tpp.get("selection"), "seed": m.get("seed"),
        }
    old, new = settings(ma), settings(mb)
    # The rest of the build config; keys reported above or by the encoder section are skipped.
    config = [c for c in _flat_changes(ma.get("config") or {}, mb.get("config") or {})
              if c["key"] not in old and c["key"] != "encoders"]
    return _dict_changes(old, new) + [{**c, "key": f"config.{c['key']}"} for c in config]


def _dict_changes(old: dict, new: dict) -> list[dict]:
    return [{"key": k, "old": old.get(k), "new": new.get(k)}
            for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]


def _keyed_changes(old: list[dict], new: list[dict], ignore: frozenset,
                   ma: dict, mb: dict) -> dict:
    """Entries matched by `id`: added, removed, and changed fields of the rest. For
    encoders the embeddings file's sha256 counts as a field too."""
    def index(entries: list[dict], m: dict) -> dict[str, dict]:
        out = {}
        for e in entries:
            fields = {k: v for k, v in e.items() if k not in ignore}
            if "file" in e and e["file"] in m.get("files", {}):
                fields["embeddings_sha256"] = m["files"][e["file"]]["sha256"]
            out[e["id"]] = fields
        return out
    io_, in_ = index(old, ma), index(new, mb)
    changed = []
    for key in [k for k in in_ if k in io_]:
        fields = _flat_changes(io_[key], in_[key])
        if fields:
            changed.append({"id": key, "fields": fields})
    return {"added": [k for k in in_ if k not in io_],
            "removed": [k for k in io_ if k not in in_],
            "changed": changed}


def _flat_changes(old: dict, new: dict, prefix: str = "") -> list[dict]:
    out = []
    for k in sorted(set(old) | set(new)):
        o, n = old.get(k), new.get(k)
        if isinstance(o, dict) and isinstance(n, dict):
            out += _flat_changes(o, n, f"{prefix}{k}.")
        elif o != n:
            out.append({"key": f"{prefix}{k}", "old": o, "new": n})
    return out


def render_diff(diff: dict, top: int = 10) -> str:
    """The diff as text for a terminal; `top` bounds the per-class TPP list."""
    lines = [f"--- {diff['a']}", f"+++ {diff['b']}"]
    if diff_is_empty(diff):
        lines.append("no differences in classes, selected sub-texts, TPP, encoders, sources, "
                     "prompts or settings")
        return "\n".join(lines)
    if diff["settings"]:
        lines.append("settings:")
        lines += [f"  {c['key']}: {_short(c['old'])} -> {_short(c['new'])}"
                  for c in diff["settings"]]
    cls = diff["classes"]
    lines.append(f"classes: {len(cls['added'])} added, {len(cls['removed'])} removed, "
                 f"{cls['common']} in both")
    lines += [f"  + {n}" for n in cls["added"]] + [f"  - {n}" for n in cls["removed"]]
    if diff["selected"]:
        lines.append(f"selected sub-texts changed in {len(diff['selected'])} class(es):")
        for c in diff["selected"]:
            old, new = c["old"], c["new"]
            lines.append(f"  {c['class']}: {_selection_head(old)} -> {_selection_head(new)}")
            lines += [f"    - {s}" for s in old["subtexts"]]
            lines += [f"    + {s}" for s in new["subtexts"]]
    tpp = diff["tpp"]
    if tpp["mean_by_source"] or tpp["dataset_mean"]:
        lines.append("mean TPP by source:")
        lines += [f"  {c['source']}: {_num(c['old'])} -> {_num(c['new'])}{_signed(c['delta'])}"
                  for c in tpp["mean_by_source"]]
        if tpp["dataset_mean"]:
            d = tpp["dataset_mean"]
            lines.append(f"  dataset mean of selected sets: {_num(d['old'])} -> "
                         f"{_num(d['new'])}{_signed(_delta(d['old'], d['new']))}")
    if tpp["by_class"]:
        shown = tpp["by_class"][:top]
        lines.append(f"largest per-class TPP changes ({len(shown)} of "
                     f"{len(tpp['by_class'])}):")
        lines += [f"  {c['class']}: {_num(c['old'])} -> {_num(c['new'])}{_signed(c['delta'])}"
                  for c in shown]
    for section in ("encoders", "sources"):
        change = diff[section]
        if not any(change.values()):
            continue
        lines.append(f"{section}:")
        lines += [f"  + {k}" for k in change["added"]] + [f"  - {k}" for k in change["removed"]]
        for c in change["changed"]:
            lines.append(f"  ~ {c['id']}: " + "; ".join(
                f"{f['key']} {_short(f['old'])} -> {_short(f['new'])}" for f in c["fields"]))
    if diff["prompts"]:
        lines.append("prompts:")
        lines += [f"  {c['key']}: {_short(c['old'])} -> {_short(c['new'])}"
                  for c in diff["prompts"]]
    return "\n".join(lines)


def _selection_head(sel: dict) -> str:
    if sel["status"] != "ok":
        return sel["status"]
    return f"{sel['source']} (TPP {_num(sel['tpp'])})"


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.4f}"


def _signed(d: float | None) -> str:
    return "" if d is None else f"  ({d:+.4f})"


def _short(value: object, width: int = 60) -> str:
    text = "-" if value is None else str(value)
    if len(text) == 64 and all(ch in "0123456789abcdef" for ch in text):
        return text[:12] + "…"  # a sha256
    return text if len(text) <= width else text[: width - 1] + "…"
