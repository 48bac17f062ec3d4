"""The one LLM client: structured JSON requests to an OpenAI-compatible endpoint.

Every reply (valid or not) is cached on disk under a key of (endpoint, model,
messages, sampling params, response format), so reruns replay the same replies with
zero calls and a crashed run resumes. Transport faults (429 with Retry-After, 5xx,
timeouts, resets) are retried with backoff up to `retries`; replies that fail
validation are re-asked with a new seed up to `attempts`. A class that still fails
is reported as failed with the reason, never filled in.
"""

import contextlib
import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

import openai

from corpus.cache import KeyValueCache, cache_key
from corpus.config import Endpoint
from corpus.errors import LLMError, LLMFatalError, ReplyInvalid
from corpus.llm import embedded
from corpus.printable import printable

T = TypeVar("T")


# How each kind of server is asked for structured output.
RESPONSE_FORMATS: dict[str, Callable[[dict], dict | None]] = {
    # OpenAI, vLLM, recent Ollama. strict=False: strict mode rejects `pattern`.
    "openai": lambda schema: {
        "type": "json_schema",
        "json_schema": {"name": "reply", "schema": schema, "strict": False},
    },
    # llama-cpp-python's server: a schema inside json_object turns into a grammar and
    # constrains decoding; it answers json_schema with HTTP 500 (docs/offline.md).
    "llama_cpp": lambda schema: {"type": "json_object", "schema": schema},
    "json_object": lambda schema: {"type": "json_object"},
    "none": lambda schema: None,
}

_RETRYABLE = (openai.APITimeoutError, openai.APIConnectionError, openai.RateLimitError,
              openai.InternalServerError)


@dataclass
class Usage:
    """Counters for one endpoint, read by the run summary and the benchmarks."""

    requests: int = 0
    cache_hits: int = 0
    transport_retries: int = 0
    invalid_replies: int = 0
    busy_s: float = 0.0  # wall time spent inside requests
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **deltas: float) -> None:
        with self.lock:
            for k, v in deltas.items():
                setattr(self, k, getattr(self, k) + v)


_recording = threading.local()


@contextlib.contextmanager
def record_usage() -> Iterator[dict[str, dict[str, float]]]:
    """The usage of the requests this thread makes inside the block, per endpoint name: a
    per-class task returns it with its result, so the counts add up also when the tasks
    ran in other processes (a Dask worker's clients are its own)."""
    _recording.usage = {}
    try:
        yield _recording.usage
    finally:
        _recording.usage = None


@dataclass(frozen=True)
class Reply:
    value: Any
    attempts: int


class LLMClient:
    def __init__(self, endpoint: Endpoint, cache: KeyValueCache, log_dir: Path):
        self.endpoint = endpoint
        self.cache = cache
        self.log_dir = log_dir
        self.usage = Usage()
        self._secret = endpoint.api_key()
        self._semaphore = threading.BoundedSemaphore(endpoint.concurrency)
        self._start_lock = threading.Lock()
        self._server: embedded.EmbeddedServer | None = None
        self._client: openai.OpenAI | None = None

    # -- identity ---------------------------------------------------------------
    def server_id(self, temperature: float) -> str:
        """What identifies the server in cache keys (the embedded port changes per run)."""
        if self.endpoint.embedded:
            # Replies depend on the request alone since the server became history-free
            # (corpus/llm/serve.py); before, on the request answered before them too. A
            # greedy reply is the same under either sampling order, a sampled one not.
            order = "" if temperature == 0 else f":{embedded.SAMPLER}"
            return f"embedded:{metadata.version(embedded.MODEL_PACKAGE)}:history-free{order}"
        return self.endpoint.base_url.rstrip("/")

    def describe(self) -> dict:
        e = self.endpoint
        out = {
            "name": e.name,
            "base_url": e.base_url,
            "model": e.model,
            "embedded": e.embedded,
            "api_key_env": e.api_key_env,
            "temperature": e.temperature,
            "max_tokens": e.max_tokens,
            "seed": e.seed,
            "retries": e.retries,
            "attempts": e.attempts,
            "structured_output": e.structured_output,
        }
        if e.embedded:
            out["embedded_server"] = embedded.describe()
        return out

    # -- lifecycle ----------------------------------------------------------------
    def _openai(self) -> openai.OpenAI:
        with self._start_lock:
            if self._client is None:
                base_url = self.endpoint.base_url
                if self.endpoint.embedded:
                    self._server = embedded.EmbeddedServer(self.log_dir / "llama-server.log")
                    base_url = self._server.start().base_url
                # max_retries=0: retries are ours (llama.cpp answers bad requests with 500,
                # which the client would otherwise retry blindly).
                self._client = openai.OpenAI(
                    base_url=base_url, api_key=self._secret, max_retries=0,
                    timeout=self.endpoint.timeout_s,
                )
            return self._client

    def close(self) -> None:
        with self._start_lock:
            if self._client is not None:
                self._client.close()
                self._client = None
            if self._server is not None:
                self._server.stop()
                self._server = None

    def __enter__(self) -> "LLMClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- requests -------------------------------------------------------------------
    def _count(self, **deltas: float) -> None:
        self.usage.add(**deltas)
        recorded = getattr(_recording, "usage", None)
        if recorded is not None:
            mine = recorded.setdefault(self.endpoint.name, {})
            for k, v in deltas.items():
                mine[k] = mine.get(k, 0) + v

    def _scrub(self, text: str) -> str:
        return text.replace(self._secret, "***") if len(self._secret) >= 4 else text

    def _request(self, params: dict) -> str:
        """One completion with transport retries; returns the reply text."""
        last = ""
        for attempt in range(self.endpoint.retries + 1):
            if attempt:
                self._count(transport_retries=1)
            try:
                with self._semaphore:
                    started = time.perf_counter()
                    try:
                        response = self._openai().chat.completions.create(**params)
                    finally:
                        self._count(requests=1, busy_s=time.perf_counter() - started)
                content = response.choices[0].message.content if response.choices else None
                return content or ""
            except _RETRYABLE as err:
                last = self._describe_error(err)
                time.sleep(self._backoff(err, attempt))
            except openai.APIStatusError as err:
                if err.status_code in (401, 403, 404):
                    raise LLMFatalError(
                        f"endpoint {self.endpoint.name}: {self._describe_error(err)}"
                    ) from None
                raise LLMError(
                    f"endpoint {self.endpoint.name}: {self._describe_error(err)} (not retried)"
                ) from None
        raise LLMError(
            f"endpoint {self.endpoint.name}: gave up after {self.endpoint.retries + 1} "
            f"tries: {last}", transient=True
        )

    def _describe_error(self, err: Exception) -> str:
        if isinstance(err, openai.APIStatusError):
            body = str(err.body)[:200] if err.body is not None else ""
            hint = ""
            if err.status_code in (401, 403):
                hint = f"; check the key in ${self.endpoint.api_key_env}"
            # The body is the remote server's text: escaped where it enters, so the reason
            # is safe in failures.parquet, logs, the Prefect UI and a terminal.
            return self._scrub(printable(f"HTTP {err.status_code} {body}{hint}", keep=""))
        return self._scrub(printable(f"{type(err).__name__}: {err}"[:300], keep=""))

    @staticmethod
    def _backoff(err: Exception, attempt: int) -> float:
        if isinstance(err, openai.APIStatusError):
            retry_after = err.response.headers.get("retry-after")
            if retry_after:
                try:
                    return min(float(retry_after), 60.0)
                except ValueError:
                    pass
        return min(30.0, 0.25 * 2**attempt) * (0.5 + random.random())

    def complete_json(
        self, messages: list[dict], schema: dict, validate: Callable[[Any], T]
    ) -> Reply:
        """Ask for JSON matching `schema`; `validate` makes it a value or raises ReplyInvalid."""
        e = self.endpoint
        reasons: list[str] = []
        for attempt in range(e.attempts):
            params: dict[str, Any] = {
                "model": e.model,
                "messages": messages,
                # A retry of an invalid reply needs a different sample.
                "temperature": e.temperature if attempt == 0 else max(e.temperature, 0.7),
                "max_tokens": e.max_tokens,
            }
            if e.seed is not None:
                params["seed"] = e.seed + attempt
            response_format = RESPONSE_FORMATS[e.structured_output](schema)
            if response_format is not None:
                params["response_format"] = response_format
            key = cache_key("chat", self.server_id(params["temperature"]), params)
            cached = self.cache.get(key)
            if cached is not None:
                self._count(cache_hits=1)
                content = json.loads(cached)["content"]
            else:
                content = self._request(params)
                self.cache.put(key, json.dumps({"content": content}).encode())
            try:
                return Reply(validate(parse_json_reply(content)), attempt + 1)
            except ReplyInvalid as err:
                self._count(invalid_replies=1)
                reasons.append(str(err))
        raise LLMError(
            f"endpoint {e.name}: no valid reply in {e.attempts} attempts: " + " | ".join(reasons)
        )


def parse_json_reply(content: str) -> Any:
    text = content.strip()
    if text.startswith("```"):  # models that wrap JSON in a code fence despite being asked
        text = text.strip("`").removeprefix("json").strip()
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ReplyInvalid(f"not JSON ({err.msg} at char {err.pos}): {text[:80]!r}") from None
