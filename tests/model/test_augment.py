"""Train-time augmentation (`mode: finetune`, docs/methods.md §1f): the crop box is drawn as
torchvision's RandomResizedCrop draws it, crop/flip/grayscale match torchvision's and
PIL's own implementations, one draw covers every frame of a clip, and the probabilities
hold over many clips."""

import numpy as np
import pytest
import torch
import torchvision.transforms.functional as TF
from PIL import Image

from model.config import load_train_config
from model.errors import LearnerError
from model.video.augment import Augmentation, augment_clip, random_resized_box, to_grayscale

MEAN, STD = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)  # identity normalisation: pixels stay in [0, 1]


def frames(count: int = 2, height: int = 24, width: int = 32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, height, width, 3), np.uint8)


def test_box_stays_inside_the_frame_with_area_and_aspect_in_range():
    scale, ratio = (0.08, 1.0), (3 / 4, 4 / 3)
    fallbacks = 0
    for seed in range(2000):
        top, left, h, w = random_resized_box(120, 160, scale, ratio, np.random.default_rng(seed))
        assert top >= 0 and top + h <= 120 and left >= 0 and left + w <= 160
        if (top, left, h, w) == (0, 0, 120, 160):
            fallbacks += 1
            continue
        # Rounding to whole pixels moves area and aspect by at most a pixel's worth.
        assert scale[0] * 0.95 <= h * w / (120 * 160) <= scale[1]
        assert ratio[0] * 0.9 <= w / h <= ratio[1] * 1.1
    assert fallbacks < 20  # ten tries nearly always find a box at these settings


def test_box_falls_back_to_the_centred_box_at_the_clamped_aspect_ratio():
    rng = np.random.default_rng(0)
    # Full area at aspect 1 does not fit a 120 × 160 frame: the largest centred square.
    assert random_resized_box(120, 160, (1.0, 1.0), (1.0, 1.0), rng) == (0, 20, 120, 120)
    assert random_resized_box(160, 120, (1.0, 1.0), (1.0, 1.0), rng) == (20, 0, 120, 120)
    # A frame whose own aspect ratio is in range keeps all of itself.
    assert random_resized_box(120, 150, (1.0, 1.0), (0.5, 2.0), rng) == (0, 0, 120, 150)


@pytest.mark.parametrize("flip, gray", [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0)])
def test_clip_equals_torchvision_on_the_same_box(flip, gray):
    raw = frames()
    settings = Augmentation(flip=flip, grayscale=gray)
    out = augment_clip(raw, settings, 16, MEAN, STD, np.random.default_rng(3))
    top, left, h, w = random_resized_box(24, 32, settings.crop_scale, settings.crop_ratio,
                                         np.random.default_rng(3))
    x = torch.from_numpy(raw).permute(0, 3, 1, 2).float() / 255
    expected = TF.crop(x, top, left, h, w)
    if flip:
        expected = TF.hflip(expected)
    if gray:  # before the resize: the clamp after bicubic does not commute with luma
        expected = TF.rgb_to_grayscale(expected, num_output_channels=3)
    expected = TF.resize(expected, [16, 16], TF.InterpolationMode.BICUBIC,
                         antialias=True).clamp(0, 1)
    assert out.shape == (2, 3, 16, 16)
    # torchvision weighs red 0.2989 on float tensors, PIL and we 0.299: at most 1e-4 apart.
    torch.testing.assert_close(out, expected, atol=2e-4 if gray else 1e-6, rtol=0)


def test_grayscale_is_the_luma_pil_computes():
    raw = frames(1)[0]
    ours = to_grayscale(torch.from_numpy(raw).permute(2, 0, 1).float())
    pil = np.asarray(Image.fromarray(raw).convert("L"), dtype=np.float32)
    assert torch.equal(ours[0], ours[1]) and torch.equal(ours[1], ours[2])
    assert np.abs(ours[0].numpy() - pil).max() <= 1.0  # PIL rounds to integers


def test_one_draw_covers_every_frame_of_a_clip():
    same = np.repeat(frames(1), 4, axis=0)
    for seed in range(20):
        out = augment_clip(same, Augmentation(), 8, MEAN, STD, np.random.default_rng(seed))
        for t in range(1, 4):
            assert torch.equal(out[0], out[t])


def test_clips_differ_between_draws_and_repeat_for_the_same_generator_state():
    raw = frames()
    a = augment_clip(raw, Augmentation(), 8, MEAN, STD, np.random.default_rng(1))
    b = augment_clip(raw, Augmentation(), 8, MEAN, STD, np.random.default_rng(1))
    c = augment_clip(raw, Augmentation(), 8, MEAN, STD, np.random.default_rng(2))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_flip_and_grayscale_happen_at_their_probabilities():
    # A frame whose left half is dark red and right half bright green: a flipped crop is
    # brighter on its left, a grayscale one has equal channels.
    raw = np.zeros((1, 24, 32, 3), np.uint8)
    raw[:, :, :16, 0] = 100
    raw[:, :, 16:, 1] = 250
    settings = Augmentation(crop_scale=(0.9, 1.0))
    flips = grays = 0
    draws = 2000
    for seed in range(draws):
        out = augment_clip(raw, settings, 8, MEAN, STD, np.random.default_rng(seed))[0]
        brightness = out.sum(0)
        flips += bool(brightness[:, :2].mean() > brightness[:, -2:].mean())
        grays += bool(torch.allclose(out[0], out[1]) and torch.allclose(out[1], out[2]))
    # Binomial standard deviations at n = 2000: 0.011 (p = 0.5) and 0.009 (p = 0.2).
    assert abs(flips / draws - 0.5) < 0.04
    assert abs(grays / draws - 0.2) < 0.035


def test_bad_settings_and_features_mode_are_refused_with_the_field_named(tmp_path):
    base = ["bundle=b", "out=o", "mode=finetune", "train_list=l.txt"]
    for bad, words in [("augment={flip: 1.5}", "flip 1.5"),
                       ("augment={crop_scale: [0.9, 0.1]}", "crop_scale"),
                       ("augment={hue: 0.1}", "augment.hue")]:
        with pytest.raises(LearnerError, match="augment") as err:
            load_train_config(None, [*base, bad])
        assert words in str(err.value)
    with pytest.raises(LearnerError, match="finetune"):
        load_train_config(None, ["bundle=b", "out=o", "train_features=f", "augment={}"])
    assert load_train_config(None, [*base, "augment=null"]).augment is None
    assert load_train_config(None, base).augment == Augmentation()
    # A checkpoint's saved config validates again (model.evaluate reloads it).
    for overrides in (base, ["bundle=b", "out=o", "train_features=f"]):
        cfg = load_train_config(None, overrides)
        assert type(cfg).model_validate(cfg.model_dump()) == cfg
