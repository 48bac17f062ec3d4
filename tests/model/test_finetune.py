"""`mode: finetune` on CPU with the tiny random-weight CLIP: the visual encoder is trained
end to end from decoded frames, saved in checkpoints, resumed exactly, and evaluated by
encoding the test videos with the fine-tuned encoder."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from model.bundle import load_bundle
from model.checkpoint import head_from_config, load_checkpoint
from model.clip import state_dict_sha256
from model.config import TrainConfig
from model.errors import LearnerError
from model.evaluate import evaluate
from model.features.cache import FeatureCache
from model.features.extract import extract
from model.finetune import FinetuneModel, load_visual
from model.heads.text import ClassTexts
from model.video.decode import clip_preprocess, decode_video
from model.video.lists import VideoItem, read_list, write_list
from model.video.sampling import segment_indices
from tests.model.conftest import run_module


@pytest.fixture(scope="module")
def small_list(clips, tmp_path_factory):
    """Eight readable clips of four classes plus one unreadable file."""
    items = read_list(clips["train"])
    chosen = []
    for c in (0, 1, 4, 5):
        chosen += [i for i in items if i.label == c][:2]
    chosen.append(next(i for i in items if "truncated" in i.path))
    out = tmp_path_factory.mktemp("finetune") / "small.txt"
    write_list(chosen, out, out.parent)
    return out


@pytest.fixture(scope="module")
def test_list(clips, tmp_path_factory):
    """Eight validation clips of the four trained classes plus one garbage file."""
    items = read_list(clips["val"])
    chosen = []
    for c in (0, 1, 4, 5):
        chosen += [i for i in items if i.label == c][:2]
    chosen.append(next(i for i in read_list(clips["train"]) if "garbage" in i.path))
    out = tmp_path_factory.mktemp("finetune-test") / "test.txt"
    write_list(chosen, out, out.parent)
    return out


def finetune(bundle_dir, small_list, out):
    done = run_module(["model.train", "mode=finetune", f"bundle={bundle_dir}",
                       f"train_list={small_list}", f"out={out}", "head=temporal",
                       "head_options={layers: 1, heads: 4}", "frames=4", "batch_size=4",
                       "epochs=2", "lr=1e-3", "visual_lr=1e-3", "decode_workers=0",
                       "progress=false"])
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads((out / "run.json").read_text())


@pytest.fixture(scope="module")
def straight(bundle_dir, small_list, tmp_path_factory) -> tuple[Path, dict]:
    """An uninterrupted two-epoch run: its folder and run.json."""
    out = tmp_path_factory.mktemp("finetune-run") / "straight"
    return out, finetune(bundle_dir, small_list, out)


@pytest.mark.slow
def test_finetune_changes_the_visual_encoder_and_resumes_exactly(bundle_dir, small_list,
                                                                 straight, tmp_path):
    straight_dir, run = straight
    assert run["mode"] == "finetune" and run["steps"] == 4 and run["train_videos"] == 8
    assert run["skipped_videos"]["count"] == 1  # the truncated file, found before training
    final = load_checkpoint(straight_dir / "checkpoints" / "epoch-0002.pt")

    initial = load_visual(load_bundle(bundle_dir)).state_dict()
    assert final["visual"].keys() == initial.keys()  # the visual tower only, not the text
    changed = [k for k in initial if not torch.equal(initial[k], final["visual"][k])]
    assert "conv1.weight" in changed and "proj" in changed
    assert len(changed) > 0.9 * len(initial)

    # A run killed during epoch 2 has only epoch 1's checkpoint; rerunning it finishes
    # with exactly the weights (head and visual encoder) of the uninterrupted run.
    shutil.copytree(straight_dir, tmp_path / "resumed")
    (tmp_path / "resumed" / "checkpoints" / "epoch-0002.pt").unlink()
    resumed = finetune(bundle_dir, small_list, tmp_path / "resumed")
    assert resumed["resumed_from_epoch"] == 1
    again = load_checkpoint(tmp_path / "resumed" / "checkpoints" / "epoch-0002.pt")
    for part in ("head", "visual"):
        for key, value in final[part].items():
            assert torch.equal(value, again[part][key]), f"{part}.{key}"


@torch.no_grad()
def scores_by_hand(model: FinetuneModel, text: ClassTexts, items: list[VideoItem],
                   frames: int, crops: int, temporal_views: int, length: int) -> np.ndarray:
    """The test views written out from the docs, on pixels: `frames` segment centres of
    the decoded video × `crops` crops; temporal view k takes the frame at (k + 0.5) / views
    of each of `length` segments of those; softmax averaged over all views."""
    pre = model.visual.preprocess_cfg
    rows = []
    for item in items:
        raw = decode_video(item.path)
        centres = segment_indices(len(raw), frames, np.full(frames, 0.5))
        pixels = clip_preprocess(raw[centres], pre["size"][0], pre["mean"], pre["std"], crops)
        views = [pixels[s, segment_indices(frames, length, np.full(length, (k + 0.5)
                                                                   / temporal_views))]
                 for s in range(crops) for k in range(temporal_views)]
        rows.append(model(torch.stack(views), text).softmax(-1).mean(0).numpy())
    return np.stack(rows)


@pytest.mark.slow
def test_finetune_checkpoint_is_evaluated_with_its_own_encoder(bundle_dir, test_list,
                                                               straight, tmp_path):
    checkpoint = straight[0] / "checkpoints" / "epoch-0002.pt"
    done = run_module(["model.evaluate", "--checkpoint", str(checkpoint), "--bundle",
                       str(bundle_dir), "--list", str(test_list), "--frames", "8",
                       "--crops", "3", "--temporal-views", "2", "--workers", "0",
                       "--device", "cpu", "--out", str(tmp_path / "report")])
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["mode"] == "finetune" and report["protocol"] == "supervised"
    assert report["views"] == {"temporal": 2, "spatial": 3}
    assert report["plots"] == ["confusion.png"]  # the temporal head has no frame weights
    assert (tmp_path / "report" / "confusion.png").stat().st_size > 0
    (skipped,) = report["skipped_videos"]
    assert skipped["path"].endswith(".mp4") and "garbage" in skipped["path"]
    assert skipped["error"]

    # The frames were encoded by the checkpoint's fine-tuned tower, and the cache says so.
    state = load_checkpoint(checkpoint)
    bundle = load_bundle(bundle_dir)
    meta = FeatureCache.open(tmp_path / "report" / "features").meta
    assert meta["weights_sha256"] == state_dict_sha256(state["visual"])
    assert meta["fine_tuned_from"] == bundle.encoder["weights_sha256"] != meta["weights_sha256"]
    assert report["visual_encoder"]["weights_sha256"] == meta["weights_sha256"]

    # The same numbers by hand: the training model's forward (fine-tuned visual tower per
    # frame, then the head) on the decoded views.
    cfg = TrainConfig.model_validate(state["config"])
    head = head_from_config(cfg, bundle)
    head.load_state_dict(state["head"])
    visual = load_visual(bundle)
    visual.load_state_dict(state["visual"])
    text = ClassTexts.from_bundle(bundle, cfg.drop_sot)
    readable = [i for i in read_list(test_list) if "garbage" not in i.path]
    labels = np.array([i.label for i in readable])
    expected = scores_by_hand(FinetuneModel(visual, head).eval(), text, readable, frames=8,
                              crops=3, temporal_views=2, length=cfg.frames)
    scores = np.load(tmp_path / "report" / "scores.npy")
    np.testing.assert_allclose(scores, expected, atol=1e-5)
    assert report["videos"] == len(readable) == 8
    assert report["top1"] == pytest.approx(float((expected.argmax(1) == labels).mean()))
    per_class = {bundle.class_names[c]: float((expected[labels == c].argmax(1) == c).mean())
                 for c in (0, 1, 4, 5)}
    assert {n: report["per_class_accuracy"][n] for n in per_class} == pytest.approx(per_class)
    # …and not those of the frozen encoder the run started from.
    frozen = scores_by_hand(FinetuneModel(load_visual(bundle), head).eval(), text, readable,
                            frames=8, crops=3, temporal_views=2, length=cfg.frames)
    assert np.abs(frozen - scores).max() > 1e-3

    # A frozen-encoder cache does not describe this checkpoint: refused, naming --list.
    extract(str(bundle_dir), str(test_list), str(tmp_path / "frozen"), frames=8, workers=0,
            progress=False)
    with pytest.raises(LearnerError, match="--list"):
        evaluate(str(checkpoint), str(bundle_dir), str(tmp_path / "frozen"),
                 str(tmp_path / "refused"))
