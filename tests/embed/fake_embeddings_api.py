"""A local OpenAI-compatible embeddings server for the tests (http.server in a thread)."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

KEY = "sk-test-not-a-real-key"
ERRORS = {
    401: {"message": "Incorrect API key provided", "code": "invalid_api_key"},
    429: {"message": "Rate limit reached for requests", "code": "rate_limit_exceeded"},
    500: {"message": "The server had an error while processing your request", "code": None},
}


def server_vector(text: str, dim: int) -> np.ndarray:
    """What the fake server answers for `text`: normal draws seeded by sha256(text)."""
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    return np.random.default_rng(seed).standard_normal(dim).astype(np.float32)


class FakeEmbeddingsServer:
    """POST /v1/embeddings, deterministic. `failures`: (status, headers, error body) answered to
    the next requests first; `fail_after`: after that many answered requests, every request
    gets a 500. `inputs` lists the inputs of every request received."""

    def __init__(self) -> None:
        self.failures: list[tuple[int, dict, dict]] = []
        self.fail_after: int | None = None
        self.inputs: list[list[str]] = []
        self.answered = 0
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _answer(self, headers, body: dict) -> tuple[int, dict, dict]:
        self.inputs.append(list(body["input"]))
        if headers.get("Authorization") != f"Bearer {KEY}":
            return 401, {}, {"error": ERRORS[401]}
        if self.failures:
            return self.failures.pop(0)
        if self.fail_after is not None and self.answered >= self.fail_after:
            return 500, {}, {"error": ERRORS[500]}
        self.answered += 1
        dim = body.get("dimensions") or 16
        data = []
        for index, text in enumerate(body["input"]):
            vector = server_vector(text, dim)
            if body.get("encoding_format") == "base64":
                encoded = base64.b64encode(vector.astype("<f4").tobytes()).decode()
            else:
                encoded = vector.tolist()
            data.append({"object": "embedding", "index": index, "embedding": encoded})
        data.reverse()  # the order of `data` is not promised: rows go by `index`
        tokens = sum(len(text.split()) for text in body["input"])
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        return 200, {}, {"object": "list", "data": data, "model": body["model"], "usage": usage}

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status, headers, payload = server._answer(self.headers, body)
                raw = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args):
                pass

        return Handler


def failure(status: int, headers: dict | None = None, **error) -> tuple[int, dict, dict]:
    """An error answer: HTTP `status`, extra `headers`, the error body with `error` overrides."""
    return status, headers or {}, {"error": {**ERRORS[status], "type": "test", **error}}
