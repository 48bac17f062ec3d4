"""Align before Adapt (alt): the Gumbel straight-through alignment, shapes, the entity
corpus from the bundle, and training on the synthetic time-reversal classes."""

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from model.bundle import Knowledge, load_bundle
from model.errors import LearnerError
from model.heads import create_head
from model.heads.alt import Attention, gumbel_straight_through, region_entity_similarity
from model.heads.text import ClassTexts, Entities

B, L, K, D, E, C = 3, 8, 5, 32, 11, 6


def random_entities(seed: int = 0) -> Entities:
    g = torch.Generator().manual_seed(seed)
    return Entities(pooled=torch.randn(E, D, generator=g), kinds=torch.zeros(E, dtype=torch.long),
                    kind_names=("objects",), class_mask=torch.zeros(C, E, dtype=torch.bool),
                    ids=[f"e{i}" for i in range(E)], texts=[f"entity {i}" for i in range(E)])


def random_text(seed: int = 1) -> ClassTexts:
    g = torch.Generator().manual_seed(seed)
    return ClassTexts(pooled=torch.randn(C, D, generator=g),
                      words=torch.randn(C, 3, D, generator=g),
                      word_mask=torch.ones(C, 3, dtype=torch.bool),
                      subwords=torch.randn(C, 2, 3, D, generator=g),
                      sub_mask=torch.ones(C, 2, 3, dtype=torch.bool))


def small_alt(**options) -> torch.nn.Module:
    return create_head("alt", D, entities=random_entities(), frames=L, blocks=2, heads=4,
                       **options)


def test_gumbel_straight_through_forward_is_exactly_one_hot():
    logits = torch.randn(4, 7, 20, generator=torch.Generator().manual_seed(0))
    z = gumbel_straight_through(logits, tau=0.7, generator=torch.Generator().manual_seed(1))
    assert z.shape == logits.shape
    assert torch.equal(z, F.one_hot(z.argmax(-1), 20).float())  # bit-exact 0.0 / 1.0
    # The hot entry is the argmax of the soft Gumbel sample drawn with the same noise.
    soft = gumbel_straight_through(logits, tau=0.7, hard=False,
                                   generator=torch.Generator().manual_seed(1))
    assert torch.equal(z.argmax(-1), soft.argmax(-1))
    torch.testing.assert_close(soft.sum(-1), torch.ones(4, 7))
    assert not torch.equal(z, soft)


def test_gumbel_straight_through_gradient_is_the_soft_samples():
    logits = torch.randn(4, 7, 20, generator=torch.Generator().manual_seed(0))
    upstream = torch.randn(4, 7, 20, generator=torch.Generator().manual_seed(4))
    grads = {}
    for hard in (True, False):
        x = logits.clone().requires_grad_(True)
        z = gumbel_straight_through(x, tau=0.5, hard=hard,
                                    generator=torch.Generator().manual_seed(3))
        (z * upstream).sum().backward()
        grads[hard] = x.grad
    # Gradients reach the similarities through the one-hot forward …
    assert torch.isfinite(grads[True]).all() and grads[True].abs().sum() > 0
    # … and are exactly those of the soft sample with the same noise (straight-through).
    torch.testing.assert_close(grads[True], grads[False], rtol=0, atol=0)


def test_gumbel_straight_through_in_float16_stays_finite_and_one_hot():
    # Under CUDA autocast the similarities arrive in float16, where 1 - 1e-7 rounds to 1.
    logits = torch.randn(64, 30, generator=torch.Generator().manual_seed(0)).half()
    for seed in range(20):
        z = gumbel_straight_through(logits, generator=torch.Generator().manual_seed(seed))
        assert z.dtype == torch.float16
        assert torch.equal(z, F.one_hot(z.argmax(-1), 30).half())


def test_gumbel_choices_follow_the_softmax_of_the_similarities():
    # The Gumbel-max trick: argmax(A + g) is a sample from softmax(A), at any τ.
    logits = torch.tensor([1.0, 0.0, -1.0]).expand(20000, 3)
    z = gumbel_straight_through(logits, tau=0.3, generator=torch.Generator().manual_seed(0))
    frequency = z.mean(0)
    torch.testing.assert_close(frequency, torch.softmax(logits[0], 0), atol=0.015, rtol=0)


def test_gumbel_low_temperature_soft_sample_approaches_one_hot():
    logits = torch.randn(500, 10, generator=torch.Generator().manual_seed(0))
    sharpness = {tau: gumbel_straight_through(logits, tau=tau, hard=False,
                                              generator=torch.Generator().manual_seed(1)
                                              ).amax(-1).median()
                 for tau in (0.01, 1.0)}
    assert sharpness[0.01] > 0.99 > sharpness[1.0]


def test_head_shapes_with_and_without_regions():
    head = small_alt()
    text = random_text()
    frames = torch.randn(B, L, D)
    assert head(frames, text, regions=torch.randn(B, L, K, D)).shape == (B, C)
    assert head(frames, text).shape == (B, C)  # no regions: each frame is its single region
    assert head.assignments(frames, torch.randn(B, L, K, D)).shape == (B, L, K)
    assert head.assignments(frames).shape == (B, L, 1)
    with pytest.raises(ValueError, match="regions"):
        head(frames, text, regions=torch.randn(B, L + 1, K, D))


def test_eval_aligns_by_plain_argmax_and_training_samples():
    head = small_alt(gumbel_tau=5.0)
    frames, regions = torch.randn(B, L, D), torch.randn(B, L, K, D)
    expected = region_entity_similarity(regions, head.entities).argmax(-1)
    assert torch.equal(head.assignments(frames, regions), expected)
    head.eval()
    text = random_text()
    assert torch.equal(head(frames, text, regions), head(frames, text, regions))
    # In training the Gumbel noise (hot at τ = 5) changes some assignments.
    head.train()
    _, z = head.align(frames, regions)
    assert torch.equal(z, F.one_hot(z.argmax(-1), E).float())
    assert not torch.equal(z.argmax(-1), expected)


def test_untrained_head_is_mean_pooling_and_gradients_reach_the_similarities():
    head = small_alt()
    text, frames, regions = random_text(), torch.randn(B, L, D), torch.randn(B, L, K, D)
    torch.testing.assert_close(head(frames, text, regions),
                               head.logits(frames.mean(1), text.pooled))
    # The video MLP's last layer starts at zero (frame_residual); once it is not, the
    # loss reaches the region–entity similarities through the straight-through one-hot.
    with torch.no_grad():
        head.video_mlp[-1].weight.normal_(std=0.1)
    head(frames, text, regions).logsumexp(1).sum().backward()
    assert head.log_similarity_scale.grad.abs() > 0
    assert head.blocks[0].temporal_conv.weight.grad.abs().sum() > 0


def test_gumbel_temperature_anneals_per_training_step_and_is_checkpointed():
    head = small_alt(gumbel_tau=2.0, gumbel_tau_min=0.5, gumbel_anneal_steps=4)
    assert head.tau() == pytest.approx(2.0)
    text = random_text()
    for _ in range(2):
        head(torch.randn(B, L, D), text)
    assert head.tau() == pytest.approx(1.0)  # halfway, geometrically
    for _ in range(5):
        head(torch.randn(B, L, D), text)
    assert head.tau() == pytest.approx(0.5)
    head.eval()
    head(torch.randn(B, L, D), text)
    assert int(head.steps) == 7  # evaluation does not advance the schedule
    restored = small_alt(gumbel_tau=2.0, gumbel_tau_min=0.5, gumbel_anneal_steps=4)
    restored.load_state_dict(head.state_dict())
    assert restored.tau() == pytest.approx(0.5)
    assert "entities" not in head.state_dict()  # the corpus comes from the bundle


@pytest.mark.parametrize("qk_norm", [True, False])
def test_qk_norm_makes_attention_blind_to_the_scale_of_queries_and_keys(qk_norm):
    # The failure QK-norm prevents: q/k projections that grow during training sharpen the
    # softmax without bound. With it, scaling them changes nothing (LayerNorm per head).
    torch.manual_seed(0)
    attention = Attention(D, 4, 0.0, qk_norm)
    x, context = torch.randn(2, 5, D), torch.randn(2, 7, D)
    before = attention(x, context)
    with torch.no_grad():
        attention.query.weight.mul_(30)
        attention.query.bias.mul_(30)
        attention.key_value.weight[:D].mul_(30)
        attention.key_value.bias[:D].mul_(30)
    after = attention(x, context)
    if qk_norm:
        torch.testing.assert_close(after, before, atol=1e-4, rtol=1e-4)
    else:
        assert (after - before).abs().max() > 0.1


def test_entities_from_the_synthetic_bundle(bundle_dir):
    bundle = load_bundle(bundle_dir)
    entities = Entities.from_bundle(bundle)
    assert entities.pooled.shape == (len(bundle.entities.items), bundle.dim)
    assert len(entities) > 0 and len(entities.ids) == len(entities)
    assert entities.class_mask.shape == (len(bundle.classes), len(entities))
    assert entities.class_mask.any(1).all()  # every synthetic class links to some entity
    # each class's own sense and description of its entities (class_entities)
    links = {(c, e) for c, e, _ in bundle.entities.class_links}
    assert set(bundle.entities.class_senses) == links
    assert all(description for _, description in bundle.entities.class_senses.values())
    head = create_head("alt", bundle.dim, bundle, frames=8, blocks=1)
    assert head.entities.shape == entities.pooled.shape


def test_bundle_without_entities_or_their_embeddings_is_refused(bundle_dir):
    bundle = load_bundle(bundle_dir)
    empty = dataclasses.replace(bundle, entities=Knowledge("entities"))
    with pytest.raises(LearnerError, match="no entities"):
        create_head("alt", bundle.dim, empty)
    item = dataclasses.replace(bundle.entities.items[0], pooled=None)
    missing = dataclasses.replace(bundle, entities=dataclasses.replace(
        bundle.entities, items=[item, *bundle.entities.items[1:]]))
    with pytest.raises(LearnerError, match="no entities embeddings"):
        Entities.from_bundle(missing)
    with pytest.raises(LearnerError, match="needs entities"):
        create_head("alt", bundle.dim)
