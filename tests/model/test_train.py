"""Training: exact resume after SIGKILL, torchrun on CPU (the synthetic end to end, where
the heads must read frame order, is in test_frame_order.py)."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from model.checkpoint import load_checkpoint
from tests.model.conftest import REPO, run_module

SMALL = ["head=temporal", "head_options={layers: 2, heads: 4}", "progress=false"]


def args(bundle_dir, features, out, *extra) -> list[str]:
    return ["model.train", f"bundle={bundle_dir}", f"train_features={features['train']}",
            f"out={out}", *SMALL, *extra]


def scalars(out: Path, tag: str) -> list[tuple[int, float]]:
    """(step, value) of a TensorBoard scalar, read back as TensorBoard reads it (after
    purging the events a resume superseded)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(out / "tensorboard"))
    events.Reload()
    return [(e.step, e.value) for e in events.Scalars(tag)]


def final_head(out: Path) -> dict:
    return load_checkpoint(sorted((out / "checkpoints").glob("epoch-*.pt"))[-1])["head"]


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_gives_the_same_weights(bundle_dir, features, tmp_path):
    extra = ["epochs=3", "batch_size=4", "lr=3e-3"]
    straight = run_module(args(bundle_dir, features, tmp_path / "straight", *extra))
    assert straight.returncode == 0, straight.stderr[-2000:]

    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", *args(bundle_dir, features, out, *extra)],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    steps = out / "steps.csv"
    deadline = time.monotonic() + 300
    # Kill once the second epoch is under way: its checkpoint (epoch 1) exists and
    # steps of epoch 2 have been logged.
    while time.monotonic() < deadline and proc.poll() is None:
        if steps.is_file() and any(line.startswith("2,") for line in
                                   steps.read_text().splitlines()[-3:]):
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.01)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "training ended before it could be killed"
    assert [p.name for p in (out / "checkpoints").glob("epoch-*.pt")] == ["epoch-0001.pt"]

    resumed = run_module(args(bundle_dir, features, out, *extra))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert json.loads((out / "run.json").read_text())["resumed_from_epoch"] == 1
    a, b = final_head(tmp_path / "straight"), final_head(out)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    # The interrupted epoch's partial rows were dropped, so the log reads like one run.
    rows = (out / "steps.csv").read_text().splitlines()[1:]
    assert rows == (tmp_path / "straight" / "steps.csv").read_text().splitlines()[1:]
    # So does TensorBoard: the killed epoch's events are purged, not shown twice.
    for tag in ("train/loss", "train/lr", "train/epoch_loss"):
        assert scalars(out, tag) == scalars(tmp_path / "straight", tag), tag


def test_tensorboard_scalars_match_the_csv_logs(bundle_dir, features, tmp_path):
    out = tmp_path / "run"
    done = run_module(args(bundle_dir, features, out, "epochs=2", "batch_size=64",
                           f"val_features={features['val']}"))
    assert done.returncode == 0, done.stderr[-2000:]
    steps = list(csv.DictReader((out / "steps.csv").open()))
    epochs = list(csv.DictReader((out / "metrics.csv").open()))
    assert len(steps) == 2 * (320 // 64) and len(epochs) == 2
    loss = scalars(out, "train/loss")
    assert [s for s, _ in loss] == [int(r["step"]) for r in steps]
    np.testing.assert_allclose([v for _, v in loss], [float(r["loss"]) for r in steps],
                               rtol=1e-5)
    np.testing.assert_allclose([v for _, v in scalars(out, "train/lr")],
                               [float(r["lr"]) for r in steps], rtol=1e-5)
    val = scalars(out, "val/top1")
    assert [s for s, _ in val] == [int(r["step"]) for r in epochs]
    np.testing.assert_allclose([v for _, v in val], [float(r["val_top1"]) for r in epochs],
                               atol=1e-4)


@pytest.mark.slow
def test_torchrun_two_ranks_matches_one_process(bundle_dir, features, tmp_path):
    extra = ["epochs=2", "batch_size=16", "head=storyboard"]
    single = run_module(args(bundle_dir, features, tmp_path / "one", *extra))
    assert single.returncode == 0, single.stderr[-2000:]
    torchrun = Path(sys.executable).with_name("torchrun")
    two = subprocess.run([str(torchrun), "--standalone", "--nproc_per_node=2", "-m",
                          *args(bundle_dir, features, tmp_path / "two", *extra)],
                         cwd=REPO, capture_output=True, text=True, timeout=600)
    assert two.returncode == 0, two.stderr[-3000:]
    assert json.loads((tmp_path / "two" / "run.json").read_text())["world_size"] == 2
    a, b = final_head(tmp_path / "one"), final_head(tmp_path / "two")
    for key in a:
        x, y = a[key], b[key]
        if key.endswith("in_proj_bias"):
            # The key bias adds the same amount to every attention score of a query, so
            # softmax cancels it: its true gradient is 0 and AdamW turns float round-off
            # (which differs with the order of sums across ranks) into ±lr steps.
            # Compare the query and value biases only.
            d = x.shape[0] // 3
            x, y = torch.cat([x[:d], x[2 * d:]]), torch.cat([y[:d], y[2 * d:]])
        # Same batches, same loss; only the order of float sums differs between ranks.
        torch.testing.assert_close(x, y, rtol=1e-4, atol=1e-5, msg=key)
