"""Attentive Semantic Units (asu): unit selection, shapes, the unit vocabulary from the
bundle, and training on the synthetic time-reversal classes."""

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from model.bundle import Knowledge, load_bundle
from model.errors import LearnerError
from model.heads import create_head
from model.heads.asu import select_semantic_units
from model.heads.text import UNIT_KINDS, SemanticUnits
from tests.model.test_alt import random_text

B, L, K, D, U, C = 3, 8, 4, 32, 13, 6


def random_units(seed: int = 0) -> SemanticUnits:
    g = torch.Generator().manual_seed(seed)
    return SemanticUnits(pooled=torch.randn(U, D, generator=g),
                         kinds=torch.arange(U) % 4, kind_names=UNIT_KINDS,
                         class_mask=torch.zeros(C, U, dtype=torch.bool),
                         ids=[f"u{i}" for i in range(U)], texts=[f"unit {i}" for i in range(U)])


def small_asu(**options) -> torch.nn.Module:
    return create_head("asu", D, semantic_units=random_units(), frames=L, layers=1, heads=4,
                       **options)


def test_selection_keeps_the_top_k_units_of_each_frame_by_best_region():
    # Two units along x and y; frame 0 has a region along y, frame 1 only along x.
    units = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    tokens = torch.tensor([[[[1.0, 1.0], [0.0, 2.0]],
                            [[3.0, 0.0], [1.0, 0.0]]]])  # (B=1, L=2, R=2, D=2)
    indices, weights, relevance = select_semantic_units(tokens, units, k=1, scale=5.0)
    assert indices.tolist() == [[[1], [0]]]
    assert weights.tolist() == [[[1.0], [1.0]]]
    # Relevance is the best cosine over the frame's tokens, times the scale.
    torch.testing.assert_close(relevance[0, 0], torch.tensor([5 / 2 ** 0.5, 5.0, 0.0]))
    indices, weights, _ = select_semantic_units(tokens, units, k=2, scale=5.0)
    assert indices[0, 0].tolist() == [1, 0]
    expected = torch.softmax(torch.tensor([5.0, 5 / 2 ** 0.5]), 0)
    torch.testing.assert_close(weights[0, 0], expected)


def test_selection_asks_for_no_more_units_than_exist():
    indices, weights, _ = select_semantic_units(torch.randn(2, 3, 1, D), torch.randn(2, D), 5)
    assert indices.shape == weights.shape == (2, 3, 2)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3))


def test_head_shapes_with_and_without_regions():
    head = small_asu(top_k=3)
    text, frames = random_text(), torch.randn(B, L, D)
    assert head(frames, text, regions=torch.randn(B, L, K, D)).shape == (B, C)
    assert head(frames, text).shape == (B, C)
    assert head.visual_tokens(frames, torch.randn(B, L, K, D)).shape == (B, L, 1 + K, D)
    assert head.visual_tokens(frames, None).shape == (B, L, 1, D)
    indices, weights = head.selected_units(frames)
    assert indices.shape == weights.shape == (B, L, 3)
    with pytest.raises(ValueError, match="frames but position"):
        head(torch.randn(B, L + 1, D), text)


def test_untrained_head_is_mean_pooling_and_gradients_reach_the_selection():
    head = small_asu()
    text, frames = random_text(), torch.randn(B, L, D)
    expected = head.logits(frames.mean(1), text.pooled)
    torch.testing.assert_close(head(frames, text, torch.randn(B, L, K, D)), expected)
    # Zero-initialised output layer: the first step trains it; after one step of it the
    # selection scale and the decoder receive gradient too.
    with torch.no_grad():
        head.out.weight.normal_(std=0.1)
    head(frames, text, torch.randn(B, L, K, D)).logsumexp(1).sum().backward()
    assert head.log_selection_scale.grad.abs() > 0
    assert head.decoder[0].temporal_attention.in_proj_weight.grad.abs().sum() > 0


def test_frame_order_changes_the_video_embedding():
    head = small_asu()
    with torch.no_grad():
        head.out.weight.normal_(std=0.1)
    head.eval()
    text, frames = random_text(), torch.randn(B, L, D)
    forward, backward = head(frames, text), head(frames.flip(1), text)
    assert not torch.allclose(forward, backward)
    mean = create_head("mean", D)
    torch.testing.assert_close(mean(frames, text), mean(frames.flip(1), text))


def test_units_from_the_synthetic_bundle(bundle_dir):
    bundle = load_bundle(bundle_dir)
    units = SemanticUnits.from_bundle(bundle)
    assert units.pooled.shape == (len(bundle.units.items), bundle.dim)
    assert units.ids == sorted(units.ids)  # a stable vocabulary order
    assert units.class_mask.shape == (len(bundle.classes), len(units))
    assert units.class_mask.any(1).all()  # every synthetic class has curated units
    assert set(units.kinds.tolist()) <= set(range(len(UNIT_KINDS)))
    # The curated synthetic units include motions and objects.
    kinds = {units.kind_names[k] for k in units.kinds.tolist()}
    assert {"motions", "objects"} <= kinds
    head = create_head("asu", bundle.dim, bundle, frames=8, layers=1)
    assert head.units.shape == units.pooled.shape
    assert torch.equal(F.normalize(head.units, dim=-1), F.normalize(units.pooled, dim=-1))


def test_bundle_without_units_is_refused(bundle_dir):
    bundle = load_bundle(bundle_dir)
    with pytest.raises(LearnerError, match="no units"):
        create_head("asu", bundle.dim, dataclasses.replace(bundle, units=Knowledge("units")))
    item = dataclasses.replace(bundle.units.items[-1], pooled=None)
    missing = dataclasses.replace(bundle, units=dataclasses.replace(
        bundle.units, items=[*bundle.units.items[:-1], item]))
    with pytest.raises(LearnerError, match="no units embeddings"):
        SemanticUnits.from_bundle(missing)
