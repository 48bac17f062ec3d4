"""`mode: finetune` on CPU with the tiny random-weight CLIP: the visual encoder is trained
end to end from decoded frames, saved in checkpoints and resumed exactly."""

import json
import shutil

import pytest
import torch

from model.bundle import load_bundle
from model.errors import LearnerError
from model.evaluate import evaluate
from model.finetune import load_visual
from model.train import load_checkpoint
from model.video.lists import read_list, write_list
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


def finetune(bundle_dir, small_list, out):
    done = run_module(["model.train", "mode=finetune", f"bundle={bundle_dir}",
                       f"train_list={small_list}", f"out={out}", "head=temporal",
                       "head_options={layers: 1, heads: 4}", "frames=4", "batch_size=4",
                       "epochs=2", "lr=1e-3", "visual_lr=1e-3", "decode_workers=0",
                       "progress=false"])
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads((out / "run.json").read_text())


@pytest.mark.slow
def test_finetune_changes_the_visual_encoder_and_resumes_exactly(bundle_dir, small_list,
                                                                 tmp_path):
    run = finetune(bundle_dir, small_list, tmp_path / "straight")
    assert run["mode"] == "finetune" and run["steps"] == 4 and run["train_videos"] == 8
    assert run["skipped_videos"]["count"] == 1  # the truncated file, found before training
    final = load_checkpoint(tmp_path / "straight" / "checkpoints" / "epoch-0002.pt")

    initial = load_visual(load_bundle(bundle_dir)).state_dict()
    assert final["visual"].keys() == initial.keys()  # the visual tower only, not the text
    changed = [k for k in initial if not torch.equal(initial[k], final["visual"][k])]
    assert "conv1.weight" in changed and "proj" in changed
    assert len(changed) > 0.9 * len(initial)

    # A run killed during epoch 2 has only epoch 1's checkpoint; rerunning it finishes
    # with exactly the weights (head and visual encoder) of the uninterrupted run.
    shutil.copytree(tmp_path / "straight", tmp_path / "resumed")
    (tmp_path / "resumed" / "checkpoints" / "epoch-0002.pt").unlink()
    resumed = finetune(bundle_dir, small_list, tmp_path / "resumed")
    assert resumed["resumed_from_epoch"] == 1
    again = load_checkpoint(tmp_path / "resumed" / "checkpoints" / "epoch-0002.pt")
    for part in ("head", "visual"):
        for key, value in final[part].items():
            assert torch.equal(value, again[part][key]), f"{part}.{key}"

    # Evaluation reads frozen-encoder features: a fine-tuned checkpoint is refused.
    with pytest.raises(LearnerError, match="mode: finetune"):
        evaluate(str(tmp_path / "resumed" / "checkpoints" / "epoch-0002.pt"),
                 str(bundle_dir), str(tmp_path / "no-features"), str(tmp_path / "report"))
