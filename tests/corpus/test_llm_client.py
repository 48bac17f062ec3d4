"""The LLM client under injected faults: retries, validation, caching, secrets."""

import json

import pytest

from corpus.cache import KeyValueCache
from corpus.classes import ActionClass
from corpus.config import Endpoint
from corpus.errors import ConfigError, LLMError, LLMFatalError
from corpus.llm.client import LLMClient
from corpus.prompts import load_prompt_set
from corpus.subtexts import LLMSource
from tests.corpus.fake_endpoint import FakeEndpoint, chat_reply

GOOD = json.dumps({"subtexts": ["the knee bends low", "arms swing back hard",
                                "feet push off the mat", "the body lands softly"]})
SECRET = "sk-test-SECRET-do-not-leak-12345"


def _endpoint(url: str, **kw) -> Endpoint:
    base = dict(name="fake", base_url=url, model="fake-model", retries=2, attempts=2,
                timeout_s=2.0, concurrency=1, api_key_env="FAKE_KEY")
    return Endpoint(**(base | kw))


@pytest.fixture
def source(tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_KEY", SECRET)
    cache = KeyValueCache(tmp_path / "llm.sqlite")

    def make(url: str, **kw) -> LLMSource:
        client = LLMClient(_endpoint(url, **kw), cache, tmp_path / "logs")
        prompts = load_prompt_set("subtexts-v1")
        return LLMSource(client, prompts, prompts.questions[0], 4)

    return make


JUMP = ActionClass(0, "jump", "jump")


def test_429_with_retry_after_is_retried(source):
    with FakeEndpoint([(429, {"error": "slow down"}, {"Retry-After": "0"}, 0),
                       (200, chat_reply(GOOD), {}, 0)]) as fake:
        src = source(fake.base_url)
        cand = src.candidate(JUMP)
    assert len(cand.subtexts) == 4 and src.client.usage.transport_retries == 1
    assert fake.headers_seen[0]["authorization"] == f"Bearer {SECRET}"


def test_server_errors_then_success(source):
    with FakeEndpoint([(503, {"error": "busy"}, {"Retry-After": "0"}, 0),
                       (200, chat_reply(GOOD), {}, 0)]) as fake:
        assert source(fake.base_url).candidate(JUMP).subtexts[0] == "the knee bends low"


def test_timeouts_exhaust_the_retry_budget(source):
    with FakeEndpoint([(200, chat_reply(GOOD), {}, 3.0)] * 3) as fake:
        src = source(fake.base_url, timeout_s=0.5, retries=1)
        with pytest.raises(LLMError, match="gave up after 2 tries") as err:
            src.candidate(JUMP)
    assert err.value.transient  # a later run may get through: failures.parquet says so


def test_malformed_and_schema_violating_replies_are_reasked_then_reported(source):
    steps = [(200, chat_reply('{"subtexts": ["only one"'), {}, 0),
             (200, chat_reply('{"steps": []}'), {}, 0)]
    with FakeEndpoint(steps) as fake:
        src = source(fake.base_url)
        with pytest.raises(LLMError) as err:
            src.candidate(JUMP)
    assert "not JSON" in str(err.value) and "expected an object" in str(err.value)
    assert not err.value.transient  # the replies are cached: asking again replays them
    # The re-ask used a new seed and a non-zero temperature.
    assert [r["seed"] for r in fake.requests] == [0, 1]
    assert fake.requests[1]["temperature"] >= 0.7


def test_replies_are_cached_so_reruns_make_no_calls(source):
    with FakeEndpoint([(200, chat_reply(GOOD), {}, 0)]) as fake:
        first = source(fake.base_url).candidate(JUMP)
    with FakeEndpoint([]) as fake2:
        # Same endpoint identity (base_url is part of the key): point at the old URL's key.
        src = source(fake.base_url)
        again = src.candidate(JUMP)
        assert fake2.requests == [] and src.client.usage.requests == 0
    assert again == first and src.client.usage.cache_hits == 1


def test_llama_cpp_mode_sends_the_schema_in_json_object(source):
    with FakeEndpoint([(200, chat_reply(GOOD), {}, 0)]) as fake:
        source(fake.base_url, structured_output="llama_cpp").candidate(JUMP)
    fmt = fake.requests[0]["response_format"]
    assert fmt["type"] == "json_object" and fmt["schema"]["properties"]["subtexts"]["minItems"] == 4


def test_openai_mode_sends_json_schema(source):
    with FakeEndpoint([(200, chat_reply(GOOD), {}, 0)]) as fake:
        source(fake.base_url, structured_output="openai").candidate(JUMP)
    assert fake.requests[0]["response_format"]["type"] == "json_schema"


def test_copying_the_worked_example_is_invalid(source):
    prompts = load_prompt_set("subtexts-v1")
    copied = json.dumps({"subtexts": list(prompts.example_subtexts)})
    with FakeEndpoint([(200, chat_reply(copied), {}, 0), (200, chat_reply(GOOD), {}, 0)]) as f:
        src = source(f.base_url)
        assert src.candidate(JUMP).subtexts[0] == "the knee bends low"
    assert src.client.usage.invalid_replies == 1


def test_auth_failure_stops_the_run_without_leaking_the_key(source):
    body = {"error": {"message": f"Incorrect API key provided: {SECRET}"}}
    with FakeEndpoint([(401, body, {}, 0)]) as fake, pytest.raises(LLMFatalError) as err:
        source(fake.base_url).candidate(JUMP)
    assert "401" in str(err.value) and "FAKE_KEY" in str(err.value)
    assert SECRET not in str(err.value)


def test_missing_key_variable_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("NOPE_KEY", raising=False)
    with pytest.raises(ConfigError, match="NOPE_KEY is not set"):
        LLMClient(_endpoint("http://127.0.0.1:9/v1", api_key_env="NOPE_KEY"),
                  KeyValueCache(tmp_path / "c.sqlite"), tmp_path)


def test_a_refused_request_is_not_transient_and_its_body_is_escaped(source):
    raw_body = b"bad request \x1b[2J\x1b[31m\xe2\x80\xae"  # not JSON: the text as sent
    with FakeEndpoint([(400, raw_body, {}, 0)]) as fake, pytest.raises(LLMError) as err:
        source(fake.base_url).candidate(JUMP)
    assert "not retried" in str(err.value) and not err.value.transient
    assert "bad request \\x1b[2J\\x1b[31m\\u202e" in str(err.value)
