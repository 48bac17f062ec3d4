"""A per-class task gets one class and a small key, never the dataset's sources: a worker
process builds the sources once from the key's request and refuses to work from inputs
that differ from the build's."""

import pickle

import pytest

from corpus.errors import SubtextError
from corpus.pipeline import sources_key
from corpus.plan import BuildRequest, plan_build
from corpus.sources import SourcesKey, generate_for, sources_for


def test_a_worker_builds_the_sources_once_from_the_key():
    plan = plan_build(BuildRequest("hmdb51", classes=2,
                                   config="data/configs/curated-only.yaml"))
    key = sources_key(plan)
    assert len(pickle.dumps(key)) < 1000 and hash(key) == hash(pickle.loads(pickle.dumps(key)))
    action = plan.class_list.classes[1]
    generated = generate_for(action, key)  # no build registered its sources: a worker's case
    assert [c.source for _, c in generated.candidates] == [
        "curated/temporal_phases", "curated/body_movements", "curated/objects_and_scene"]
    assert generated.action == action and generated.work_s > 0
    assert generated.llm_usage == {}  # curated text asks no endpoint
    assert sources_for(key) is sources_for(key)


def test_a_worker_with_other_inputs_refuses():
    plan = plan_build(BuildRequest("hmdb51", classes=2,
                                   config="data/configs/curated-only.yaml"))
    stale = SourcesKey(sources_key(plan).request, "0" * 64)
    with pytest.raises(SubtextError, match="a worker sees other inputs for hmdb51"):
        sources_for(stale)
