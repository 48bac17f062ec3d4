"""Build stages that are pure functions of their inputs."""

import pytest

from corpus.knowledge import best_tier
from corpus.llm.client import ReplyInvalid
from corpus.unit_sources import RawUnits, parse_units_reply


def _raw(source: str) -> RawUnits:
    return RawUnits(0, source, "llm", {"objects": ("ball",)})


def test_units_come_from_the_best_priority_tier():
    units = [_raw("curated/units"), _raw("embedded/semantic_units")]
    priority = {"curated/units": 0, "embedded/semantic_units": 1}
    assert [r.source for r in best_tier(units, priority)] == ["curated/units"]
    assert [r.source for r in best_tier(units[1:], priority)] == ["embedded/semantic_units"]
    assert best_tier([], priority) == []


def test_a_unit_reply_missing_a_kind_is_noted_not_fatal():
    kinds = ("body_parts", "objects", "scenes", "motions")
    units, notes = parse_units_reply({"objects": ["ball", 7, ""], "scenes": ["field"]}, kinds)
    assert units == {"objects": ("ball",), "scenes": ("field",)}
    assert "reply has no 'body_parts'" in notes and "reply has no 'motions'" in notes
    assert any("dropped 2" in n for n in notes)


def test_a_unit_reply_with_nothing_usable_is_invalid():
    with pytest.raises(ReplyInvalid):
        parse_units_reply({"objects": []}, ("objects",))
    with pytest.raises(ReplyInvalid):
        parse_units_reply(["ball"], ("objects",))
