"""Training-free zero-shot assessment (model.assess): a known-answer test on a real bundle
built by the corpus CLI from two imported sources, scored with the real (random-weight)
open_clip text tower; bad inputs (one line each, naming the file); the real feature cache
path; the Prefect flow `assess-zeroshot` and its artifacts read back from Prefect's real
ephemeral API (slow)."""

import asyncio
import csv
import json
import re
import subprocess
import sys

import numpy as np
import pytest

from model.assess.correlation import correlation, ranks
from model.assess.variants import derangement, set_embedding, unit
from model.bundle import load_text_embeddings
from tests.conftest import one_error_line
from tests.model.conftest import REPO, run_module, subtext_command

GOOD = ["{} seen from the side", "a person {} slowly", "{} in one smooth motion",
        "the moment of {} up close"]
# Text with nothing of any class in it, different for each class.
UNRELATED = ["the weather report mentions rain", "a bowl of soup on a table",
             "the stock market closed higher", "an old map of the harbour",
             "a cat sleeping on a sofa", "the train leaves at noon", "a jar of honey",
             "the library opens on monday", "a violin resting in its case",
             "snow covering a parked car", "a bicycle leaning on a wall",
             "the recipe needs two eggs", "an empty parking lot at night"]


@pytest.fixture(scope="module")
def imported_bundle(tmp_path_factory):
    """A bundle of the synthetic classes whose only text is two imported CSV sources:
    `good` names the class in every sub-text, `bad` never does."""
    root = tmp_path_factory.mktemp("assess")
    classes = list(csv.DictReader((REPO / "data/classes/synthetic.csv").open()))
    rng = np.random.default_rng(0)
    for name, rows in (
        ("good", [(c["name"], t.format(c["text"])) for c in classes for t in GOOD]),
        ("bad", [(c["name"], s) for c in classes
                 for s in rng.choice(UNRELATED, size=4, replace=False)]),
    ):
        with (root / f"{name}.csv").open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["class", "text"])
            w.writerows(rows)
    config = root / "config.yaml"
    config.write_text(
        "class_template: '{}'\nn_subtexts: 4\nseed: 0\ncurated: never\nembedded_llm: never\n"
        "endpoints: []\n"
        f"imports:\n  - {{format: csv, path: {root / 'good.csv'}, label: good}}\n"
        f"  - {{format: csv, path: {root / 'bad.csv'}, label: bad}}\n"
        "encoders:\n  - {model: subtext-tiny, pretrained: random, seed: 0}\n")
    out = root / "bundle"
    done = subprocess.run([*subtext_command(), "corpus", "build", "--dataset", "synthetic",
                           "--config", str(config), "--out", str(out), "--plain"], cwd=REPO,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return out


def known_answer_videos(bundle, path, noise=6.0, per_class=12, seed=0):
    """Videos = P_c + noise, P_c = unit(class text + the good source's set)."""
    text = load_text_embeddings(bundle)
    good = {s.class_id: set_embedding(s.pooled) for s in text.sets if "good" in s.source}
    assert len(good) == len(text.names)
    protos = np.stack([unit(unit(text.class_pooled[c]) + good[c]) for c in range(len(good))])
    spread = np.linalg.norm(protos - protos.mean(0), axis=1).mean()
    labels = np.repeat(np.arange(len(good)), per_class)
    rng = np.random.default_rng(seed)
    frames = protos[labels][:, None] + noise * spread / np.sqrt(protos.shape[1]) * \
        rng.standard_normal((len(labels), 4, protos.shape[1]))
    # Class names in reverse order: the file's own indices are mapped by name.
    names = text.names[::-1]
    file_labels = np.array([names.index(text.names[c]) for c in labels])
    np.savez(path, features=frames.astype(np.float32), labels=file_labels,
             class_names=np.array(names))
    return path


def half_class_of_class_names(bundle, npz):
    """The half-class protocol restated independently: for seeds 0–9, a random half of the
    classes; top-1 of the class names among them on their own videos; the mean."""
    text = load_text_embeddings(bundle)
    data = np.load(npz)
    order = [list(data["class_names"]).index(n) for n in text.names]
    labels = np.array([order.index(i) for i in data["labels"]])
    videos = unit(data["features"].mean(1))  # a video: the mean of its frames
    sims = videos @ unit(text.class_pooled).T
    per_seed = []
    for seed in range(10):
        half = np.random.default_rng(seed).choice(len(text.names), len(text.names) // 2,
                                                  replace=False)
        keep = np.isin(labels, half)
        picked = half[np.argmax(sims[keep][:, half], axis=1)]
        per_seed.append(np.mean(picked == labels[keep]))
    return float(np.mean(per_seed))


def by_source(report):
    return {s["source"].split("/")[0] + ("/good" if "good" in s["source"] else "/bad"): s
            for s in report["bundles"][0]["sources"]}


def test_known_answer_good_text_beats_class_names_bad_text_and_controls(imported_bundle,
                                                                         tmp_path):
    npz = known_answer_videos(imported_bundle, tmp_path / "features.npz")
    out = tmp_path / "out"
    done = run_module(["model.assess.zeroshot", "--features", str(npz), "--bundle",
                       str(imported_bundle), "-o", str(out), "--seeds", "5"])
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads((out / "assessment.json").read_text())
    assert report["protocol"] == "zero-shot"
    assert "10 random 50 % subsets, seeds 0–9" in report["protocol_description"]
    assert report["control_seeds"] == 5
    sources = report["bundles"][0]["sources"]
    good = next(s for s in sources if "good" in s["source"])
    bad = next(s for s in sources if "bad" in s["source"])
    class_name = report["bundles"][0]["baselines"]["class name"]["top1"]
    assert good["class+set"]["top1"] > class_name
    assert bad["class+set"]["top1"] <= class_name
    for key, control in good["controls"].items():
        assert control["seeds"] == 5
        assert good["class+set"]["top1"] > control["top1"]["mean"], key
    assert set(good["controls"]) == {f"{k}:{v}" for k in ("random_words", "random_characters",
                                                          "shuffled") for v in ("set", "class+set")}
    assert good["flags"] == []
    assert "no class-specific signal" in bad["flags"]
    # Neither the bad source nor any control of either source beats the class names.
    for s in (good, bad):
        for key, control in s["controls"].items():
            assert control["top1"]["mean"] < class_name, (s["source"], key)
    # The good sets both score higher with TPP (they name the class) and win each class.
    within = report["tpp"]["within_classes"]
    assert within["classes"] == 10 and within["spearman_rho"] > 0 and within["pearson_r"] > 0
    assert half_class_of_class_names(imported_bundle, npz) == pytest.approx(
        report["bundles"][0]["baselines"]["class name"]["half_class_top1"]["mean"])
    assert "templates" in report["bundles"][0]["baselines"]
    # TPP picks the good set of every class (it names the class): the selected variant is it.
    pooled = report["bundles"][0]["pooled"]
    assert set(pooled) == {"selected (TPP)", "all candidates"}
    for variant in ("set", "class+set"):
        assert pooled["selected (TPP)"][variant] == good[variant]
    assert good["per_class"]["improved"] >= 1
    # The biggest changes each way, at most 10, biggest first.
    for s, key, sign in ((good, "gains", -1), (bad, "losses", 1)):
        deltas = [d["delta"] for d in s["per_class"][key]]
        assert 1 <= len(deltas) <= 10 and deltas == sorted(deltas, key=lambda d: sign * d)
    p = good["per_class"]["percentiles"]
    assert list(p) == ["5", "25", "50", "75", "95"] and sorted(p.values()) == list(p.values())
    md = (out / "report.md").read_text()
    assert "r² 95 % (bootstrap)" in md and "percentiles: p5" in md
    assert "10 random 50 % subsets, seeds 0–9" in md and "mean ± std over 5 seeds" in md
    assert "random weights" in md and "no class-specific signal" in md
    for plot in ("sources.png", "tpp_vs_top1.png", "per_class_delta.png"):
        assert (out / plot).stat().st_size > 1000
    assert "error" not in done.stderr.lower()


def test_subtext_eval_zeroshot_is_the_same_command(imported_bundle, tmp_path):
    npz = known_answer_videos(imported_bundle, tmp_path / "f.npz", per_class=3)
    done = subprocess.run([*subtext_command(), "eval", "zeroshot", "--features", str(npz),
                           "--bundle", str(imported_bundle), "-o", str(tmp_path / "o"),
                           "--seeds", "1", "--no-encoder", "--plain"], cwd=REPO,
                          capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads((tmp_path / "o" / "assessment.json").read_text())
    assert "templates" not in report["bundles"][0]["baselines"]
    # Without the encoder only the shuffled control runs.
    assert {k.split(":")[0] for s in report["bundles"][0]["sources"]
            for k in s["controls"]} == {"shuffled"}


@pytest.mark.parametrize("arrays, message", [
    ({"features": np.zeros((4, 128), np.float32)}, "no 'labels' array"),
    ({"features": np.zeros((4, 2, 3, 128), np.float32), "labels": np.zeros(4, int)},
     "'features' must be float (V, T, D) or (V, D)"),
    ({"features": np.zeros((4, 128), np.float32), "labels": np.array([0, 1, 2, 99])},
     "1 label(s) outside 0..9"),
    ({"features": np.zeros((4, 64), np.float32), "labels": np.zeros(4, int)},
     "dimension 64"),
    ({"features": np.zeros((4, 128), np.float32), "labels": np.zeros(3, int)},
     "4 feature rows but 3 labels"),
    ({"features": np.zeros((2, 128), np.float32), "labels": np.zeros(2, int),
      "class_names": np.array(["juggling"])}, "not in the bundle, e.g. ['juggling']"),
])
def test_bad_npz_gets_one_clear_line(imported_bundle, tmp_path, arrays, message):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    done = run_module(["model.assess.zeroshot", "--features", str(path), "--bundle",
                       str(imported_bundle), "-o", str(tmp_path / "o"), "--no-encoder"])
    one_error_line(done, str(path), message)
    assert not (tmp_path / "o").exists()


def test_not_an_npz_and_missing_encoder(imported_bundle, tmp_path):
    junk = tmp_path / "junk.npz"
    junk.write_text("not a zip")
    done = run_module(["model.assess.zeroshot", "--features", str(junk), "--bundle",
                       str(imported_bundle), "-o", str(tmp_path / "o")])
    one_error_line(done, str(junk), "not a readable .npz")
    npz = known_answer_videos(imported_bundle, tmp_path / "f.npz", per_class=1)
    done = run_module(["model.assess.zeroshot", "--features", str(npz), "--bundle",
                       str(imported_bundle), "-o", str(tmp_path / "o"), "--encoder", "vit-x"])
    one_error_line(done, str(imported_bundle / "manifest.json"),
                   "bundle has no encoder 'vit-x'")
    assert not (tmp_path / "o").exists()


def test_bundle_without_clip_embeddings(imported_bundle, tmp_path):
    """A real bundle built with no CLIP encoder (only the TPP encoder's embeddings): one
    line naming its manifest."""
    config = tmp_path / "no-clip.yaml"
    config.write_text(
        "class_template: '{}'\nn_subtexts: 4\nseed: 0\ncurated: never\nembedded_llm: never\n"
        f"endpoints: []\nimports:\n  - {{format: csv, path: {imported_bundle.parent / 'good.csv'}, "
        "label: good}\nencoders: []\n")
    out = tmp_path / "no-clip"
    built = subprocess.run([*subtext_command(), "corpus", "build", "--dataset", "synthetic",
                            "--config", str(config), "--out", str(out), "--plain"], cwd=REPO,
                           capture_output=True, text=True)
    assert built.returncode == 0, built.stderr[-2000:]
    npz = known_answer_videos(imported_bundle, tmp_path / "f.npz", per_class=1)
    done = run_module(["model.assess.zeroshot", "--features", str(npz), "--bundle", str(out),
                       "-o", str(tmp_path / "o"), "--no-encoder"])
    one_error_line(done, str(out / "manifest.json"),
                   "bundle has no open_clip encoder with word embeddings")
    assert not (tmp_path / "o").exists()


def test_real_feature_cache_and_its_weights_check(bundle_dir, features, imported_bundle,
                                                  tmp_path):
    """The learner's cache of PyAV-decoded synthetic clips: it scores against the bundle it
    was extracted with; a bundle with other encoder weights is refused."""
    done = run_module(["model.assess.zeroshot", "--features", str(features["val"]),
                       "--bundle", str(bundle_dir), "-o", str(tmp_path / "o"), "--seeds", "2"])
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads((tmp_path / "o" / "assessment.json").read_text())
    assert report["features"]["kind"] == "feature cache"
    assert report["videos"] == 80
    other = tmp_path / "other.yaml"
    other.write_text((REPO / "tests/model/synthetic-corpus.yaml").read_text()
                     .replace("seed: 0\n", "seed: 1\n"))
    out = tmp_path / "seed1"
    built = subprocess.run([*subtext_command(), "corpus", "build", "--dataset", "synthetic",
                            "--config", str(other), "--out", str(out), "--plain"], cwd=REPO,
                           capture_output=True, text=True)
    assert built.returncode == 0, built.stderr[-2000:]
    done = run_module(["model.assess.zeroshot", "--features", str(features["val"]),
                       "--bundle", str(out), "-o", str(tmp_path / "o2"), "--no-encoder"])
    one_error_line(done, "made by visual weights", str(features["val"]))
    assert not (tmp_path / "o2").exists()


def test_statistics_match_an_independent_computation():
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal(30), rng.standard_normal(30)
    y = x + 0.5 * y
    c = correlation(x, y)
    assert c["pearson_r"] == pytest.approx(np.corrcoef(x, y)[0, 1])
    assert ranks(np.array([3.0, 1.0, 3.0, 2.0])).tolist() == [2.5, 0.0, 2.5, 1.0]
    assert correlation([1, 2], [1, 2])["pearson_r"] is None
    lo, hi = c["r2_ci95"]
    assert 0 <= lo < c["r2"] < hi <= 1
    assert correlation(x, 2 * x + 1)["r2_ci95"] == pytest.approx([1.0, 1.0])
    assert correlation([1, 2], [1, 2])["r2_ci95"] is None
    for n in (2, 3, 10):
        p = derangement(n, rng)
        assert sorted(p.tolist()) == list(range(n)) and not np.any(p == np.arange(n))


def test_module_runs_without_corpus_installed():
    """model.assess imports nothing of corpus or pipelines (the learner-only install)."""
    code = ("import sys, model.assess.zeroshot, model.assess.report; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('corpus','pipelines')))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert done.stdout.strip() == "[]", done.stderr


ARTIFACTS = ("zeroshot-assessment-report", "zeroshot-assessment-sources",
             "zeroshot-class-changes", "zeroshot-tpp-correlation")


@pytest.mark.slow
def test_the_flow_publishes_artifacts(imported_bundle, tmp_path):
    """`assess-zeroshot` on Prefect's real ephemeral API; the artifacts read back with
    Prefect's client hold the report, the source table with its control bands and flags,
    the per-class gains and losses, and the TPP correlations of assessment.json."""
    from pipelines.prefect_settings import configure_prefect_defaults

    configure_prefect_defaults()  # as the CLI does: a longer wait for the ephemeral API
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from pipelines.zeroshot_flow import run_zeroshot_flow

    npz = known_answer_videos(imported_bundle, tmp_path / "features.npz", per_class=6)
    out = tmp_path / "flow-out"
    report = run_zeroshot_flow(str(npz), [str(imported_bundle)], str(out), seeds=2)
    assert report == json.loads((out / "assessment.json").read_text())

    async def read_back():
        async with get_client() as client:
            artifacts = await client.read_artifacts(artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=list(ARTIFACTS))))
            runs = await client.read_flow_runs()
            tasks = await client.read_task_runs()
            return artifacts, runs, tasks

    artifacts, runs, tasks = asyncio.run(read_back())
    ours = [r for r in runs if r.parameters.get("out") == str(out)]
    assert [r.state_type.value for r in ours] == ["COMPLETED"]
    names = [t.name for t in tasks if t.flow_run_id == ours[0].id]
    assert len(names) == 1 and names[0].startswith("zero-shot-"), names
    data = {a.key: json.loads(a.data) if a.type == "table" and isinstance(a.data, str)
            else a.data for a in artifacts if a.flow_run_id == ours[0].id}
    assert set(data) == set(ARTIFACTS)

    md = data["zeroshot-assessment-report"]
    assert md.startswith("# Zero-shot assessment of text sources")
    assert "## Does TPP predict accuracy?" in md
    for plot in ("sources.png", "tpp_vs_top1.png", "per_class_delta.png"):
        assert f"{(out / plot).resolve()}`" in md and (out / plot).is_file()

    bundle = report["bundles"][0]
    rows = {r["text"]: r for r in data["zeroshot-assessment-sources"]}
    assert {"class name", "templates"} <= set(rows)
    for s in bundle["sources"]:
        row = rows[f"{s['source']}, set"]
        assert row["top-1"] == f"{100 * s['set']['top1']:.1f}"
        shuffled = s["controls"]["shuffled:set"]["top1"]
        assert row["shuffled (set)"] == (f"{100 * shuffled['mean']:.1f} ± "
                                         f"{100 * shuffled['std']:.1f}")
        assert re.fullmatch(r"\d+\.\d ± \d+\.\d", row["random words (+class)"])
        assert row["flags"] == "; ".join(s["flags"])
    bad = next(s for s in bundle["sources"] if "bad" in s["source"])
    assert "no class-specific signal" in rows[f"{bad['source']}, set"]["flags"]

    changes = data["zeroshot-class-changes"]
    expected = [(s["source"], kind, d["class"]) for s in bundle["sources"]
                for kind, key in (("gain", "gains"), ("loss", "losses"))
                for d in s["per_class"][key]]
    assert [(r["source"], r["change"], r["class"]) for r in changes] == expected
    assert expected and all((r["points"] > 0) == (r["change"] == "gain") for r in changes)

    corr = {r["comparison"].split(" (")[0]: r for r in data["zeroshot-tpp-correlation"]}
    within = report["tpp"]["within_classes"]
    assert corr["within classes"]["Pearson r"] == f"{within['pearson_r']:.2f}"
    assert corr["within classes"]["n"] == within["n"] and within["pearson_r"] > 0


@pytest.mark.slow
def test_the_flow_refuses_bad_input_in_one_line(imported_bundle, tmp_path):
    """Through the flow (the CLI's default) a bad file still ends in one line, no
    traceback from Prefect's console, nothing written."""
    path = tmp_path / "bad.npz"
    np.savez(path, features=np.zeros((4, 128), np.float32), labels=np.array([0, 1, 2, 99]))
    done = subprocess.run([*subtext_command(), "eval", "zeroshot", "--features", str(path),
                           "--bundle", str(imported_bundle), "-o", str(tmp_path / "o"),
                           "--no-encoder"], cwd=REPO, capture_output=True, text=True)
    one_error_line(done, str(path), "1 label(s) outside 0..9")
    assert not (tmp_path / "o").exists()
