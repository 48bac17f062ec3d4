"""Decoding, TSN sampling, the synthetic clips, and corrupt videos."""

import numpy as np

from model.features.cache import FeatureCache
from model.synthetic import CLASSES, FRAMES, clip_frames, generate
from model.video.decode import UnreadableVideo, clip_preprocess, decode_video
from model.video.lists import read_list
from model.video.sampling import segment_indices, view_offsets


def test_segment_indices_centre_and_short_clips():
    centre = view_offsets(4, 1)[0]
    assert segment_indices(16, 4, centre).tolist() == [2, 6, 10, 14]
    assert segment_indices(3, 4, centre).tolist() == [0, 1, 1, 2]  # repeats, in order
    assert view_offsets(4, 2)[:, 0].tolist() == [0.25, 0.75]


def test_reversed_classes_hold_the_same_frames_in_reverse():
    rng = np.random.default_rng(0)
    assert [name for name, _, _ in CLASSES][:2] == ["moving_left", "moving_right"]
    right = clip_frames(1, np.random.default_rng(5))
    left = clip_frames(0, np.random.default_rng(5))
    np.testing.assert_array_equal(left, right[::-1])
    assert clip_frames(6, rng).shape == (FRAMES, 64, 64, 3)


def test_pyav_round_trip_and_preprocess(tmp_path):
    lists = generate(tmp_path, train_per_class=1, val_per_class=0, corrupt=0)
    item = read_list(lists["train"])[0]
    frames = decode_video(item.path)
    assert frames.shape == (FRAMES, 64, 64, 3) and frames.dtype == np.uint8
    x = clip_preprocess(frames[:2], 32, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25), num_crops=3)
    assert tuple(x.shape) == (3, 2, 3, 32, 32)


def test_every_kind_of_unreadable_file_raises_unreadable(tmp_path):
    lists = generate(tmp_path, train_per_class=1, val_per_class=0, corrupt=4)
    bad = [i for i in read_list(lists["train"]) if "/corrupt/" in i.path]
    assert len(bad) == 4
    for item in bad:
        try:
            decode_video(item.path)
        except UnreadableVideo:
            continue
        raise AssertionError(f"{item.path} decoded")


def test_corrupt_videos_are_skipped_and_reported_in_the_cache(features, clips):
    cache = FeatureCache.open(features["train"])
    listed = read_list(clips["train"])
    assert len(cache) == len(listed) - 4
    assert sorted(f["path"].split("/")[-1] for f in cache.failed) == [
        "empty_002.mp4", "garbage_001.mp4", "missing_003.mp4", "truncated_000.mp4"]
    assert all(f["error"] for f in cache.failed)
    assert cache.all().shape == (len(cache), 1, 16, 128)
