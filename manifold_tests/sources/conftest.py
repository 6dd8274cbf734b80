"""A real HTTP server on 127.0.0.1 for fetch and URL sources, with the misbehaving answers a
hostile or broken server gives (trickled bytes, a body cut short)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

import pytest

from manifold_tests.http_serving import serving

PAGES = {1: [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}], 2: [{"id": 3, "name": "c"}]}
BIG_BYTES = 17 * 2**20
TRICKLE_SECONDS = 0.2
TRICKLE_BYTES = 300


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        """Quiet: the test output is for failures."""

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _trickle(self, data: bytes) -> None:
        """One byte every TRICKLE_SECONDS: each read succeeds, so only an overall deadline
        stops the client. Bounded, and quiet when the client hangs up."""
        try:
            for byte in data[:TRICKLE_BYTES]:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(TRICKLE_SECONDS)
        except (BrokenPipeError, ConnectionResetError):
            return

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/trickle":
            self.send_response(200)
            self.send_header("Content-Length", str(TRICKLE_BYTES))
            self.end_headers()
            self._trickle(b"x" * TRICKLE_BYTES)
        elif url.path == "/trickle-head":
            self._trickle(b"HTTP/1.0 200 OK\r\nX-Padding: " + b"x" * TRICKLE_BYTES)
        elif url.path == "/truncated":
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
        elif url.path == "/echo-headers":
            self._send(200, json.dumps(dict(self.headers.items())).encode())
        elif url.path == "/items":
            if self.headers.get("Authorization") != "Bearer s3cret":
                self._send(401, b'{"error": "no token"}')
                return
            page = int(parse_qs(url.query).get("page", ["1"])[0])
            body = {"items": PAGES.get(page, []), "next": page + 1 if page + 1 in PAGES else None}
            self._send(200, json.dumps(body).encode())
        elif url.path == "/big":
            self._send(200, b"[" + b" " * BIG_BYTES + b"]")
        elif url.path == "/slow":
            time.sleep(4)
            self._send(200, b"[]")
        elif url.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "http://evil.example.com/")
            self.end_headers()
        elif url.path == "/data.csv":
            self._send(200, b"id,name\n1,a\n2,b\n", "text/csv")
        elif url.path == "/data.json":
            self._send(200, b'{"result": {"rows": [{"id": 1}, {"id": 2}]}}')
        else:
            self._send(404, b'{"error": "not found"}')


@pytest.fixture(scope="session")
def http_server() -> Iterator[str]:
    with serving(_Handler) as base:
        yield base
