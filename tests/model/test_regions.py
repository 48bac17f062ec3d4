"""Region-aware frame features: ToMe token merging (ALT), multi-region attention (ASU),
and their cache. Real open_clip (the random-weight subtext-tiny ViT: 64 px, 16 px patches,
so N = 16 patch tokens, L = 4 blocks, D = 128) on real PyAV-decoded clips."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from model.clip import create_clip
from model.data import train_batch, train_regions, view_clips, view_regions
from model.errors import LearnerError
from model.features.cache import FeatureCache, atomic_write_bytes, write_shard
from model.features.extract import extract, main
from model.features.regions import (
    NO_REGION,
    MRAConfig,
    ToMeConfig,
    attention_with_keys,
    bipartite_soft_matching,
    encode_mra,
    encode_regions,
    encode_regions_with_geometry,
    encode_tome,
    merge_wavg,
    mra_attention_mask,
    mra_blocks_forward,
    mra_partition,
    reduce_to_k,
    tome_tokens,
)
from model.synthetic import generate
from model.video.decode import clip_preprocess, decode_video
from model.video.lists import read_list
from model.video.sampling import segment_indices, view_offsets

N, BLOCKS, DIM = 16, 4, 128


@pytest.fixture(scope="module")
def visual() -> torch.nn.Module:
    return create_clip("subtext-tiny", "random", seed=0).visual


@pytest.fixture(scope="module")
def clip_list(tmp_path_factory) -> Path:
    """One real H.264 clip per class, plus one corrupt file."""
    return generate(tmp_path_factory.mktemp("region-clips"), train_per_class=1,
                    val_per_class=0, corrupt=1, seed=3)["train"]


@pytest.fixture(scope="module")
def images(visual, clip_list) -> torch.Tensor:
    """(12, 3, 64, 64): four decoded frames from each of three real clips."""
    pre = visual.preprocess_cfg
    items = [i for i in read_list(clip_list) if "/corrupt/" not in i.path][:3]
    frames = np.concatenate([decode_video(i.path)[::4] for i in items])
    return clip_preprocess(frames, 64, pre["mean"], pre["std"])[0]


def run(fn, *args):
    with torch.inference_mode():
        return fn(*args)


# --------------------------------------------------------------------------- ToMe


@pytest.mark.parametrize("r", [1, 2, 3])
def test_merging_leaves_n_minus_l_times_r_tokens_that_cover_every_patch(visual, images, r):
    x, size, _, _ = run(tome_tokens, visual, images, ToMeConfig(r=r))
    assert x.shape == (len(images), 1 + N - BLOCKS * r, 128)
    # Sizes count patches: CLS stays 1, the regions still add up to all N patches.
    assert torch.all(size[:, 0, 0] == 1)
    torch.testing.assert_close(size[:, 1:, 0].sum(1), torch.full((len(images),), float(N)))
    cls, regions = run(encode_tome, visual, images, ToMeConfig(r=r))
    assert cls.shape == (len(images), DIM) and regions.shape == (len(images), N - BLOCKS * r, DIM)


def test_r_zero_is_bit_for_bit_open_clip(visual, images):
    cls, regions = run(encode_tome, visual, images, ToMeConfig(r=0))
    with torch.inference_mode():
        assert torch.equal(cls, visual(images))
        _, tokens = visual._pool(visual.transformer(visual._embeds(images)))
        assert torch.equal(regions, tokens @ visual.proj)


def test_merging_changes_the_encoder_output(visual, images):
    cls, _ = run(encode_tome, visual, images, ToMeConfig(r=2))
    assert not torch.allclose(cls, run(visual, images), atol=1e-3)


def test_too_many_merges_are_refused_not_clamped(visual, images):
    # Block 4 would need 4 merges among the 4 patches left by 3 blocks of r = 4.
    with pytest.raises(LearnerError, match="at most 2 merges"):
        run(tome_tokens, visual, images, ToMeConfig(r=4))


def test_matching_merges_the_most_similar_a_to_b_pairs():
    # Positions 0..5: A = {0, 2, 4}, B = {1, 3, 5}. Token 2 equals token 5; token 4 is
    # close to token 1; CLS (0) equals token 3 but is protected.
    metric = torch.tensor([[[1.0, 0, 0], [0, 1, 0], [0, 0, 1],
                            [1, 0, 0], [0.1, 1, 0], [0, 0, 1]]])
    merge = bipartite_soft_matching(metric, r=2)
    assert merge.src.tolist() == [[1, 2]]  # A indices of tokens 2 and 4
    assert merge.dst.tolist() == [[2, 0]]  # B indices of tokens 5 and 1
    assert merge.unmerged.tolist() == [[0]]  # CLS stays, first
    with pytest.raises(LearnerError, match="at most 2"):
        bipartite_soft_matching(metric, r=3)


def test_cls_is_never_merged_even_when_it_is_the_best_match():
    torch.manual_seed(0)
    x = torch.randn(2, 9, 6)
    x[:, 1] = x[:, 0]  # a B token identical to CLS
    size = torch.ones(2, 9, 1)
    merge = bipartite_soft_matching(x, r=4)  # every mergeable A token merges
    merged, new_size, _ = merge_wavg(merge, x, size)
    assert torch.equal(merged[:, 0], x[:, 0]) and torch.all(new_size[:, 0] == 1)
    assert merged.shape == (2, 5, 6)


def test_size_weighted_merging_preserves_the_size_weighted_mean():
    torch.manual_seed(1)
    x = torch.randn(3, 17, 8, dtype=torch.float64)
    size = torch.randint(1, 5, (3, 17, 1)).double()
    merge = bipartite_soft_matching(x, r=6)
    merged, new_size, _ = merge_wavg(merge, x, size)
    assert merged.shape == (3, 11, 8)
    torch.testing.assert_close(new_size.sum(1), size.sum(1))
    torch.testing.assert_close((merged * new_size).sum(1) / new_size.sum(1),
                               (x * size).sum(1) / size.sum(1))
    # And each merged B token is the weighted average of itself and its sources (A index
    # a is position 2a, B index d is position 2d + 1; merged B tokens follow the kept A's).
    d = merge.dst[0, 0].item()
    group = [2 * d + 1] + [2 * a for a, to in zip(merge.src[0].tolist(),
                                                  merge.dst[0].tolist(), strict=True) if to == d]
    expected = (x[0, group] * size[0, group]).sum(0) / size[0, group].sum()
    row = merge.unmerged.shape[1] + d
    torch.testing.assert_close(merged[0, row], expected)


def test_keys_attention_matches_open_clip_and_proportional_attention_counts_sizes(visual,
                                                                                   images):
    block = visual.transformer.resblocks[0]
    y = run(lambda: block.ln_1(visual._embeds(images)))
    out, keys = run(attention_with_keys, block.attn, y, None)
    torch.testing.assert_close(out, run(block.attention, y), atol=1e-5, rtol=1e-5)
    assert keys.shape == (len(images), 1 + N, 128 // block.attn.num_heads)
    # ToMe Eq. 1: one token of size 2 attracts as much attention as two copies of it.
    twice = torch.cat([y, y[:, -1:]], dim=1)
    sizes = torch.ones(len(images), 1 + N, 1)
    sizes[:, -1] = 2
    copies, _ = run(attention_with_keys, block.attn, twice, None)
    weighted, _ = run(attention_with_keys, block.attn, y, sizes)
    torch.testing.assert_close(weighted, copies[:, :-1], atol=1e-5, rtol=1e-5)


def test_reduction_to_k_keeps_coverage_or_the_largest_regions(visual, images):
    x, size, centroid, source = run(tome_tokens, visual, images, ToMeConfig(r=1))  # 12
    patches, sizes, cents, sources = x[:, 1:], size[:, 1:], centroid[:, 1:], source[:, 1:]
    merged, merged_size, merged_cent, _ = reduce_to_k(patches, sizes, cents, sources, 5,
                                                      "merge")
    assert merged.shape == (len(images), 5, 128)
    torch.testing.assert_close(merged_size.sum(1), sizes.sum(1))  # every patch still counted
    _, largest_size, _, _ = reduce_to_k(patches, sizes, cents, sources, 5, "largest")
    top = sizes[..., 0].sort(dim=1, descending=True).values[:, :5]
    torch.testing.assert_close(largest_size[..., 0].sort(dim=1, descending=True).values, top)
    # Raster order of region centroids (row, then column).
    key = merged_cent[..., 0] * 1e4 + merged_cent[..., 1]
    assert torch.all(key[:, 1:] >= key[:, :-1])
    _, regions = run(encode_tome, visual, images, ToMeConfig(r=1, tokens=5))
    assert regions.shape == (len(images), 5, DIM)


@pytest.mark.parametrize("cfg", [ToMeConfig(r=1), ToMeConfig(r=2, tokens=3),
                                 ToMeConfig(r=3, proportional_attention=False)])
def test_tome_geometry_puts_every_patch_in_exactly_one_region_of_its_tracked_size(
        visual, images, cfg):
    _, _, _, source = run(tome_tokens, visual, images, cfg)
    # Source tracking: each patch is in exactly one token, CLS stands for none.
    assert torch.all(source[:, 0] == 0)
    torch.testing.assert_close(source[:, 1:].sum(1), torch.ones(len(images), N))
    cls, regions, where = run(encode_regions_with_geometry, visual, images, cfg)
    k = regions.shape[1]
    assert where.shape == (len(images), 4, 4) and where.dtype == torch.int64
    assert set(where.unique().tolist()) == set(range(k))  # no patch lost, no region empty
    # A region's footprint has as many patches as merging said it absorbed.
    x, size, centroid, source = run(tome_tokens, visual, images, cfg)
    _, sizes, _, _ = reduce_to_k(x[:, 1:], size[:, 1:], centroid[:, 1:], source[:, 1:], k,
                                 cfg.reduce)
    counts = torch.stack([torch.bincount(w.flatten(), minlength=k) for w in where])
    torch.testing.assert_close(counts.float(), sizes[..., 0])
    # The maps are of the same forward pass as the tokens.
    plain_cls, plain_regions = run(encode_regions, visual, images, cfg)
    assert torch.equal(cls, plain_cls) and torch.equal(regions, plain_regions)


def test_tome_geometry_of_the_largest_regions_marks_dropped_patches(visual, images):
    cfg = ToMeConfig(r=1, tokens=5, reduce="largest")  # 12 regions, 7 dropped
    _, _, where = run(encode_regions_with_geometry, visual, images, cfg)
    x, size, centroid, source = run(tome_tokens, visual, images, cfg)
    _, sizes, _, _ = reduce_to_k(x[:, 1:], size[:, 1:], centroid[:, 1:], source[:, 1:], 5,
                                 "largest")
    kept = (where != NO_REGION).flatten(1).sum(1)
    torch.testing.assert_close(kept.float(), sizes[..., 0].sum(1))
    assert torch.all(kept < N)
    assert set(where[where != NO_REGION].unique().tolist()) == set(range(5))


@pytest.mark.parametrize("R", [1, 4, 16])
def test_mra_geometry_is_the_grid_partition(visual, images, R):
    _, regions, where = run(encode_regions_with_geometry, visual, images, MRAConfig(R=R))
    assert regions.shape[1] == R
    expected = mra_partition(4, R).view(4, 4)
    assert all(torch.equal(w, expected) for w in where)
    assert set(expected.unique().tolist()) == set(range(R))  # every cell has patches


# --------------------------------------------------------------------------- MRA


def test_mra_mask_gives_each_region_token_its_own_cell_only():
    allowed = mra_attention_mask(grid=4, regions=4)
    t = 1 + N
    assert allowed.shape == (t + 4, t + 4)
    assert allowed[:t, :t].all() and not allowed[:t, t:].any()  # no one sees a region token
    cells = [[0, 1, 4, 5], [2, 3, 6, 7], [8, 9, 12, 13], [10, 11, 14, 15]]
    for i, cell in enumerate(cells):
        assert (torch.nonzero(allowed[t + i, 1:t]).flatten().tolist()) == cell
        assert allowed[t + i, t:].tolist() == [j == i for j in range(4)]
        assert not allowed[t + i, 0]
    assert mra_attention_mask(4, 4, attend_cls=True)[t:, 0].all()
    with pytest.raises(LearnerError, match="square number"):
        mra_attention_mask(4, 3)


def test_mra_region_token_is_blind_to_patches_outside_its_cell(visual, images):
    blocks = list(visual.transformer.resblocks)
    hidden = run(lambda: torch.nn.Sequential(*blocks[:-1])(visual._embeds(images)))
    outside = torch.ones(1 + N, dtype=torch.bool)
    outside[[0, 1, 2, 5, 6]] = False  # CLS and cell 0 (patches 0, 1, 4, 5 → tokens 1, 2, 5, 6)
    perturbed = hidden.clone()
    perturbed[:, outside] += torch.randn_like(perturbed[:, outside])
    cfg = MRAConfig(R=4)
    before = run(mra_blocks_forward, blocks[-1:], hidden, 4, cfg)
    after = run(mra_blocks_forward, blocks[-1:], perturbed, 4, cfg)
    t = 1 + N
    torch.testing.assert_close(after[:, t], before[:, t], atol=1e-6, rtol=0)
    for i in (1, 2, 3):  # the other cells were perturbed, so their region tokens move
        assert not torch.allclose(after[:, t + i], before[:, t + i], atol=1e-3)


def test_mra_keeps_the_plain_cls_and_adds_r_regions(visual, images):
    for cfg in (MRAConfig(R=4), MRAConfig(R=16, blocks=2), MRAConfig(R=1, attend_cls=True)):
        cls, regions = run(encode_mra, visual, images, cfg)
        torch.testing.assert_close(cls, run(visual, images), atol=1e-5, rtol=1e-5)
        assert regions.shape == (len(images), cfg.R, DIM)
    with pytest.raises(LearnerError, match="blocks=5"):
        run(encode_mra, visual, images, MRAConfig(blocks=5))


# --------------------------------------------------------------------------- cache, data


def write_coded_cache(root: Path, videos: int, crops: int, frames: int, k: int) -> None:
    """A cache whose every value encodes where it sits: frame feature (v, s, t) and region
    token (v, s, t, k), so sampled batches can be checked for alignment."""
    root.mkdir(parents=True)
    v, s, t = np.meshgrid(np.arange(videos), np.arange(crops), np.arange(frames),
                          indexing="ij")
    code = (v * 10000 + s * 1000 + t * 10).astype(np.float32)
    features = np.repeat(code[..., None], 4, axis=-1)
    regions = code[..., None, None] + np.arange(k, dtype=np.float32)[:, None]
    regions = np.repeat(regions, 4, axis=-1)
    for shard, rows in enumerate((range(0, 3), range(3, videos))):
        tmp = root / f"regions-{shard}.npy"
        np.save(tmp, regions[list(rows)])
        index = {"videos": [{"path": f"v{r}.mp4", "label": r % 2} for r in rows],
                 "failed": []}
        write_shard(root, shard, features[list(rows)], index, regions=tmp)
    meta = {"n_shards": 2, "cache_frames": frames, "crops": crops,
            "regions": {"method": "mra", "r": None, "R": k, "tokens": k}}
    atomic_write_bytes(root / "meta.json", json.dumps(meta).encode())


def test_train_regions_sample_the_same_crop_and_frames_as_train_batch(tmp_path):
    write_coded_cache(tmp_path / "cache", videos=7, crops=3, frames=16, k=4)
    cache = FeatureCache.open(tmp_path / "cache")
    assert cache.has_regions and cache.get_regions([6, 0]).shape == (2, 3, 16, 4, 4)
    # Made like a cache from before region maps were recorded: still readable, no maps.
    assert cache.geometry is None and cache.get_region_geometry([0]) is None
    videos = np.array([5, 0, 3, 6])
    for epoch in range(3):
        frames, _ = train_batch(cache, videos, 8, seed=1, epoch=epoch)
        regions = train_regions(cache, videos, 8, seed=1, epoch=epoch)
        assert regions.shape == (4, 8, 4, 4)
        torch.testing.assert_close(regions[..., 0], frames[..., :1] + torch.arange(4.0))
        assert {int(c) // 1000 % 10 for c in frames[..., 0].flatten()} != {0}  # crops vary
    views = view_regions(cache.get_regions(range(7)), 8, temporal_views=2)
    clips = view_clips(cache.all(), 8, temporal_views=2)
    assert views.shape == (7, 6, 8, 4, 4)
    np.testing.assert_array_equal(views[..., 0], clips[..., :1] + np.arange(4.0))


def test_a_cache_without_regions_says_so(tmp_path):
    root = tmp_path / "cache"
    root.mkdir()
    write_shard(root, 0, np.zeros((1, 1, 2, 4), np.float32),
                {"videos": [{"path": "a.mp4", "label": 0}], "failed": []})
    atomic_write_bytes(root / "meta.json", json.dumps({"n_shards": 1, "cache_frames": 2}
                                                      ).encode())
    cache = FeatureCache.open(root)
    assert not cache.has_regions and cache.regions is None
    assert cache.get_region_geometry([0]) is None
    with pytest.raises(LearnerError, match="no region features"):
        cache.get_regions([0])


def test_extracted_regions_round_trip_and_match_the_encoder(bundle_dir, clip_list, visual,
                                                            tmp_path):
    cfg = ToMeConfig(r=2, tokens=6)
    out = tmp_path / "cache"
    # Shards of 4 videos: the corrupt clip leaves one shard with a dropped row.
    stats = extract(str(bundle_dir), str(clip_list), str(out), frames=4, shard_size=4,
                    workers=0, progress=False, regions=cfg)
    cache = FeatureCache.open(out)
    assert cache.meta["regions"] == {"method": "tome", "r": 2, "R": None, "tokens": 6}
    assert len(cache) == 10 and len(cache.failed) == 1
    assert cache.get_regions(range(10)).shape == (10, 1, 4, 6, DIM)
    assert stats["bytes_per_video"] == 1 * 4 * ((1 + 6) * DIM * 4 + 2 * N)  # + uint16 maps
    assert sorted(p.name for p in out.glob("*.npy"))[:3] == [
        "shard-00000.npy", "shard-00000.regions.npy", "shard-00000.regions_geometry.npy"]
    on_disk = sum(p.stat().st_size for p in out.glob("*.npy"))  # + one header per file
    assert 10 * stats["bytes_per_video"] < on_disk < 10 * stats["bytes_per_video"] + 9 * 256
    geometry = cache.get_region_geometry(range(10))
    assert geometry.shape == (10, 1, 4, 4, 4) and geometry.dtype == np.uint16
    assert not list(out.glob("*tmp*")) and not list(out.glob("*kept*"))
    # The cached rows are the encoder's output for the decoded frames of the same videos.
    pre = visual.preprocess_cfg
    for v in (0, 9):
        frames = decode_video(str(Path(cache.paths[v])))
        x = clip_preprocess(frames[segment_indices(len(frames), 4, view_offsets(4, 1)[0])],
                            64, pre["mean"], pre["std"])[0]
        cls, regions, where = run(encode_regions_with_geometry, visual, x, cfg)
        np.testing.assert_allclose(cache.get([v])[0, 0], cls.numpy(), atol=1e-5)
        np.testing.assert_allclose(cache.get_regions([v])[0, 0], regions.numpy(), atol=1e-5)
        np.testing.assert_array_equal(geometry[v, 0], where.numpy())
    # Resuming skips complete shards; other region settings are refused.
    assert extract(str(bundle_dir), str(clip_list), str(out), frames=4, shard_size=4,
                   workers=0, progress=False, regions=cfg)["videos"] == 0
    with pytest.raises(LearnerError, match="regions"):
        extract(str(bundle_dir), str(clip_list), str(out), frames=4, shard_size=4,
                workers=0, progress=False, regions=ToMeConfig(r=1, tokens=6))


def test_extract_cli_prints_the_cache_size_before_extracting(bundle_dir, clip_list, tmp_path,
                                                              capsys):
    main(["--bundle", str(bundle_dir), "--list", str(clip_list), "--out",
          str(tmp_path / "mra"), "--frames", "2", "--workers", "0", "--device", "cpu",
          "--regions", "mra", "--R", "4"])
    printed = capsys.readouterr().out.splitlines()
    size = 1 * 2 * ((1 + 4) * DIM * 4 + 2 * N) / 1e6
    assert printed[0].startswith(f"cache: 1 crop(s) x 2 frames x (1 CLS + 4 regions) x {DIM}")
    assert f"= {size:.3f} MB per video" in printed[0]
    assert json.loads(printed[-1])["videos"] == 10
    cache = FeatureCache.open(tmp_path / "mra")
    assert cache.get_regions([0]).shape == (1, 1, 2, 4, DIM)
    np.testing.assert_array_equal(cache.get_region_geometry(range(10)),
                                  np.broadcast_to(mra_partition(4, 4).view(4, 4).numpy(),
                                                  (10, 1, 2, 4, 4)))
    with pytest.raises(SystemExit, match="need --regions"):
        main(["--bundle", str(bundle_dir), "--list", str(clip_list), "--out",
              str(tmp_path / "x"), "--r", "2"])
