"""Feature extraction end to end: frame-folder lists and folder-per-class layouts, resume
after a kill, and shards split over torchrun ranks."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from model.features.cache import FeatureCache
from model.features.extract import extract
from model.video.decode import FRAME_TEMPLATE, decode_video
from model.video.lists import VideoItem, read_list, write_list
from tests.model.conftest import REPO, run_module

CLASS_OF = {0: "moving_left", 1: "moving_right", 4: "growing", 7: "rotating_anticlockwise"}


def cached(root: Path) -> tuple[np.ndarray, list[str], list[int]]:
    cache = FeatureCache.open(root)
    return cache.all(), cache.paths, cache.labels.tolist()


@pytest.fixture(scope="module")
def ten_videos(clips, tmp_path_factory) -> Path:
    """Ten readable synthetic clips, two or three of each of four classes."""
    items = [i for i in read_list(clips["val"]) if i.label in CLASS_OF]
    chosen: list[VideoItem] = []
    for c, n in zip(CLASS_OF, (3, 3, 2, 2), strict=True):
        chosen += [i for i in items if i.label == c][:n]
    out = tmp_path_factory.mktemp("ten") / "ten.txt"
    write_list(chosen, out, out.parent)
    return out


@pytest.fixture(scope="module")
def reference(bundle_dir, ten_videos, tmp_path_factory) -> Path:
    """A complete single-process extraction of the ten videos, two per shard."""
    out = tmp_path_factory.mktemp("reference") / "cache"
    extract(str(bundle_dir), str(ten_videos), str(out), frames=8, shard_size=2, workers=0,
            progress=False)
    return out


def test_frame_folders_and_class_folders_extract_like_the_video_files(
        bundle_dir, ten_videos, reference, tmp_path):
    videos = read_list(ten_videos)
    # The same clips as class folders of video files, and of extracted JPEG frames.
    for item in videos:
        name, stem = CLASS_OF[item.label], Path(item.path).stem
        (tmp_path / "by_class" / name).mkdir(parents=True, exist_ok=True)
        shutil.copy(item.path, tmp_path / "by_class" / name / f"{stem}.mp4")
        frame_dir = tmp_path / "frames" / name / stem
        frame_dir.mkdir(parents=True)
        for i, frame in enumerate(decode_video(item.path)):
            Image.fromarray(frame).save(frame_dir / FRAME_TEMPLATE.format(i + 1), quality=98)
    # Folder labels follow the bundle's class order, whatever the folders' own order.
    for layout in ("by_class", "frames"):
        done = run_module(["model.video.lists", str(tmp_path / layout), "--bundle",
                           str(bundle_dir), "--out", str(tmp_path / f"{layout}.txt")])
        assert done.returncode == 0, done.stderr[-2000:]
        extract(str(bundle_dir), str(tmp_path / f"{layout}.txt"), str(tmp_path / layout
                / "cache"), frames=8, shard_size=4, workers=0, progress=False)
    frame_lines = (tmp_path / "frames.txt").read_text().split()
    assert frame_lines[:3] == ["frames/growing/growing_val_000", "16", "4"]  # dir num_frames label

    ref, ref_paths, ref_labels = cached(reference)
    order = np.argsort([Path(p).stem for p in ref_paths])  # class folders list by name
    ref, ref_labels = ref[order], [ref_labels[i] for i in order]
    files, _, file_labels = cached(tmp_path / "by_class" / "cache")
    frames, frame_paths, frame_labels = cached(tmp_path / "frames" / "cache")
    assert file_labels == frame_labels == ref_labels
    assert all(Path(p).is_dir() for p in frame_paths)
    np.testing.assert_allclose(files, ref, rtol=1e-5, atol=1e-5)
    # JPEG frames differ from the decoded video by compression only: the same frames
    # were sampled (a shifted or reversed index would pair different pictures).
    unit = frames / np.linalg.norm(frames, axis=-1, keepdims=True)
    ref_unit = ref / np.linalg.norm(ref, axis=-1, keepdims=True)
    same = (unit * ref_unit).sum(-1)
    reversed_frames = (unit * ref_unit[:, :, ::-1]).sum(-1)
    # Random-weight features of different frames are already close (cos ≈ 0.99), so
    # compare distances: JPEG loss must be far below the gap to the wrong frames.
    assert (1 - same).max() < (1 - reversed_frames).mean() / 10


@pytest.mark.slow
def test_rerun_after_a_kill_extracts_only_the_missing_shards(
        bundle_dir, ten_videos, reference, tmp_path):
    out = tmp_path / "cache"
    command = [sys.executable, "-m", "model.features.extract", "--bundle", str(bundle_dir),
               "--list", str(ten_videos), "--out", str(out), "--frames", "8",
               "--shard-size", "2", "--workers", "0", "--device", "cpu"]
    proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if (out / "shard-00000.json").is_file():
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.005)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "extraction ended before it could be killed"
    done = sorted(p.stem for p in out.glob("shard-*.json"))
    assert "shard-00000" in done and len(done) < 5
    # A kill between a shard's array and its index leaves the array alone: not complete.
    (out / "shard-00000.json").unlink()
    kept = {p.name: p.stat().st_mtime_ns for p in out.glob("shard-*.json")}

    stats = extract(str(bundle_dir), str(ten_videos), str(out), frames=8, shard_size=2,
                    workers=0, progress=False)
    assert stats["videos"] == 2 * (5 - len(kept))  # only the missing shards were encoded
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("shard-*.json")
            if p.name in kept} == kept
    got, ref = cached(out), cached(reference)
    np.testing.assert_array_equal(got[0], ref[0])
    assert got[1:] == ref[1:]


@pytest.mark.slow
def test_two_ranks_write_disjoint_shards_whose_union_is_the_single_process_cache(
        bundle_dir, ten_videos, reference, tmp_path):
    torchrun = Path(sys.executable).with_name("torchrun")
    done = subprocess.run([str(torchrun), "--standalone", "--nproc_per_node=2", "-m",
                           "model.features.extract", "--bundle", str(bundle_dir), "--list",
                           str(ten_videos), "--out", str(tmp_path / "cache"), "--frames", "8",
                           "--shard-size", "2", "--workers", "0", "--device", "cpu"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    # Five shards: rank 0 takes 0, 2, 4 and rank 1 takes 1, 3 (shard i -> rank i % 2).
    finished = dict(re.findall(r"extract rank (\d): 100%\|[^|]*\| (\d+/\d+)", done.stderr))
    assert finished == {"0": "3/3", "1": "2/2"}
    per_rank = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert sorted(s["videos"] for s in per_rank) == [4, 6]  # no shard encoded twice
    got, ref = cached(tmp_path / "cache"), cached(reference)
    np.testing.assert_array_equal(got[0], ref[0])
    assert got[1:] == ref[1:]
