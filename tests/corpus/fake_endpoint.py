"""A scripted OpenAI-compatible endpoint on loopback, for faults a real server cannot
produce on demand (429, 5xx, timeouts, malformed JSON). Test-only."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def chat_reply(content: str) -> dict:
    return {"id": "x", "object": "chat.completion", "created": 0, "model": "fake",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content}}]}


def send_json(handler: BaseHTTPRequestHandler, status: int, body: object,
              headers: dict) -> None:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    try:
        handler.send_response(status)
        for k, v in {"Content-Type": "application/json", **headers}.items():
            handler.send_header(k, v)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)
    except (BrokenPipeError, ConnectionResetError):
        pass


class FakeEndpoint:
    """Answers each request with the next scripted step: (status, body, headers, delay_s)."""

    def __init__(self, steps: list[tuple[int, object, dict, float]],
                 default: tuple[int, object, dict, float] | None = None):
        self.steps = list(steps)
        self.requests: list[dict] = []
        self.headers_seen: list[dict] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                endpoint.requests.append(body)
                endpoint.headers_seen.append({k.lower(): v for k, v in self.headers.items()})
                status, payload, headers, delay = (endpoint.steps.pop(0) if endpoint.steps
                                                   else endpoint.steps_default)
                time.sleep(delay)
                send_json(self, status, payload, headers)

        self.steps_default = default or (500, {"error": "script exhausted"}, {}, 0.0)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> "FakeEndpoint":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
