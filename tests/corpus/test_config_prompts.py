"""Configuration files and prompt sets are data, validated with clear messages."""

import pytest

from corpus.config import load_config, resolve_config
from corpus.errors import ConfigError
from corpus.prompts import load_prompt_set


def test_default_config_runs_the_embedded_model_as_a_fallback():
    cfg = load_config()
    (endpoint,) = cfg.llm_endpoints()
    assert endpoint.embedded and endpoint.structured_output == "llama_cpp"
    assert cfg.embedded_llm == "fallback"
    assert cfg.n_subtexts == 4 and cfg.tpp.alpha == "paper" and cfg.tpp.beta == "paper"


def test_example_config_validates():
    cfg = load_config("data/configs/openai.example.yaml")
    assert [e.name for e in cfg.endpoints] == ["gpt4o", "vllm-llama3", "ollama-phi3"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("endpoints: [{name: a, base_url: x, model: m, temprature: 1}]", "temprature"),
        ("n_subtexts: 1", "n_subtexts"),
        ("class_template: 'no slot'", "class_template"),
        ("tpp: {beta: sideways}", "tpp.beta"),
        ("endpoints: [{name: a, base_url: x, model: m}, {name: a, base_url: y, model: m}]",
         "unique"),
        ("[1, 2]", "mapping"),
        ("key: [unclosed", "not valid YAML"),
        ("embedded_llm: false", "embedded_llm: Value error, false is no longer accepted"),
        ("embedded_llm: true", "true is now always"),
        ("embedded_llm: sometimes", "embedded_llm"),
    ],
)
def test_bad_config_names_the_file_and_field(tmp_path, text, message):
    f = tmp_path / "c.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(f)
    assert message in str(err.value) and str(f) in str(err.value)


@pytest.mark.parametrize("value", [
    "sk-proj-Q7vX2mLp9RtZ4wKc8NbY3hJd6FsA1gUe", "sk_live_51HqLyjWDarjtT1zdp7dc",
    "ghp_16C7e42F292c6912E7710c838347Ae178B4a", "xoxb-2048-4096-abcdefABCDEF",
    "AKIAIOSFODNN7EXAMPLE", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b",
    "Zx8Qp2LmN4rT7vW1yB3dF6hJ", "my key", "my-token",
])
def test_a_key_in_api_key_env_is_refused_without_echoing_it(tmp_path, value):
    f = tmp_path / "c.yaml"
    f.write_text(f"endpoints: [{{name: a, base_url: x, model: m, api_key_env: '{value}'}}]")
    with pytest.raises(ConfigError) as err:
        load_config(f)
    message = str(err.value)
    assert "endpoints.0.api_key_env" in message
    assert "this looks like a key, not the name of an environment variable" in message
    assert not any(value[i:i + 6] in message for i in range(len(value) - 5))


@pytest.mark.parametrize("name", ["OPENAI_API_KEY", "HF_TOKEN", "MY_SERVICE_TOKEN_2024",
                                  "AnthropicKey", "ANTHROPICAPIKEYPRODUCTION2"])
def test_variable_names_are_accepted(tmp_path, name):
    f = tmp_path / "c.yaml"
    f.write_text(f"endpoints: [{{name: a, base_url: x, model: m, api_key_env: {name}}}]")
    assert load_config(f).endpoints[0].api_key_env == name


def test_cli_encoder_override_is_added():
    cfg = resolve_config(None, "subtext-tiny", "random")
    assert [(e.model, e.pretrained) for e in cfg.encoders] == [("subtext-tiny", "random")]


def test_prompt_rendering():
    prompts = load_prompt_set("subtexts-v1")
    assert len(prompts.questions) == 4
    system, user = prompts.messages(prompts.questions[0], "long jump", 4)
    assert system["role"] == "system" and "action recognition" in system["content"]
    assert '"subtexts"' in system["content"]  # the worked example is rendered in
    assert user["content"].startswith('Describe the action "long jump" as a sequence of 4')
    assert prompts.example_subtexts and len(prompts.sha256) == 64


def test_prompt_with_unknown_placeholder_is_rejected(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("id: p\nversion: 1\nsystem: s\nquestions: [{id: q, text: 'do {action}'}]\n")
    with pytest.raises(ConfigError, match="unknown placeholder"):
        load_prompt_set(str(f))
