"""An OpenAI-compatible endpoint on loopback that fails a configurable share of requests
in every way a real service does: 429 with Retry-After, 500/503, connection resets,
timeouts, truncated JSON and schema-violating JSON. Test-only; bounded and local."""

import hashlib
import json
import random
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.corpus.fake_endpoint import chat_reply, send_json

FAULTS = ("429", "500", "503", "reset", "timeout", "truncated", "schema")
# Chosen by `fault_for` only: a valid reply whose every string carries terminal escapes (clear
# the screen, turn red) and a bidi override; a 401 whose raw, non-JSON body does the same.
HOSTILE = "\x1b[2J\x1b[31m"
BIDI = "\u202e"


def hostile_reply(reply: str) -> str:
    def spoil(value):
        if isinstance(value, str):
            return value.replace(" ", f" {HOSTILE}", 1) + BIDI
        if isinstance(value, list):
            return [spoil(v) for v in value]
        return {k: spoil(v) for k, v in value.items()}
    return json.dumps(spoil(json.loads(reply)))


def good_reply(request: dict) -> str:
    """Distinct, valid answers per request: sub-texts or units depending on the schema."""
    digest = hashlib.sha256(json.dumps(request["messages"]).encode()).hexdigest()
    words = ["arm", "leg", "ball", "mat", "field", "rope", "bar", "net", "ring", "board",
             "knee", "hip", "wrist", "shoe", "glove", "hoop"]
    pick = [words[int(digest[i : i + 2], 16) % len(words)] for i in range(0, 16, 2)]
    schema = (request.get("response_format") or {}).get("json_schema", {}).get("schema", {})
    props = schema.get("properties", {})
    if "subtexts" in props:
        return json.dumps({"subtexts": [
            f"the {pick[0]} moves toward the {pick[1]} slowly",
            f"both hands reach for the {pick[2]} near the ground",
            f"the body turns while the {pick[3]} swings past",
            f"feet settle beside the {pick[4]} at the end"]})
    if "description" in props:
        return json.dumps({"description": f"a {pick[0]} seen near a {pick[1]}"})
    return json.dumps({k: [pick[i % 8], pick[(i + 3) % 8]] for i, k in enumerate(props)})


class _Server(ThreadingHTTPServer):
    # The default listen backlog (5) refuses connections under the load benchmark's
    # hundreds of concurrent clients; a real service would not.
    request_queue_size = 1024
    daemon_threads = True


class FaultyEndpoint:
    """`fault_for(request)` names the fault for one request (None: healthy), in place of
    the random draw, for tests that fail chosen classes; `port` reopens a known address
    (an endpoint that was down and comes back)."""

    def __init__(self, fault_rate: float, seed: int = 0, timeout_sleep_s: float = 1.5,
                 latency_s: float = 0.0, port: int = 0,
                 fault_for: Callable[[dict], str | None] | None = None):
        self.rng = random.Random(seed)
        self.fault_for = fault_for
        self.lock = threading.Lock()
        self.counts: dict[str, int] = {"ok": 0, **dict.fromkeys(FAULTS, 0)}
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with endpoint.lock:
                    if endpoint.fault_for is not None:
                        fault = endpoint.fault_for(request) or "ok"
                    else:
                        fault = (endpoint.rng.choice(FAULTS)
                                 if endpoint.rng.random() < fault_rate else "ok")
                    endpoint.counts[fault] = endpoint.counts.get(fault, 0) + 1
                if fault == "reset":
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                               b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    self.connection.close()
                    return
                time.sleep(latency_s + (timeout_sleep_s if fault == "timeout" else 0.0))
                status, headers, body = 200, {}, chat_reply(good_reply(request))
                if fault in ("429", "500", "503"):
                    status, body = int(fault), {"error": {"message": f"injected {fault}"}}
                    headers = {"Retry-After": "0"} if fault == "429" else {}
                elif fault == "truncated":
                    body = chat_reply(good_reply(request)[:25])
                elif fault == "hostile":
                    body = chat_reply(hostile_reply(good_reply(request)))
                elif fault == "hostile-401":
                    status, body = 401, f"key refused {HOSTILE}{BIDI}".encode()
                elif fault == "schema":
                    body = chat_reply(json.dumps({"answer": "no"}))
                send_json(self, status, body, headers)

        self.server = _Server(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> "FaultyEndpoint":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
