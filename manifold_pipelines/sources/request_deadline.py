"""One overall time limit for a whole HTTP request: connecting, every redirect, the headers and
the body. A socket timeout bounds each read, so a server sending one byte at a time never trips
it; this deadline shuts the request's sockets down when the time is up instead."""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
import time
import urllib.request
from types import TracebackType
from typing import Any


class RequestDeadline:
    """Watches every socket a request opens; at `seconds` it shuts them all down, so each read
    blocked on them returns at once. Use as a context manager around the whole request."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._ends = time.monotonic() + seconds
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> RequestDeadline:
        self._timer.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._timer.cancel()

    def remaining(self) -> float:
        return max(0.0, self._ends - time.monotonic())

    def create_connection(
        self, address: tuple[str, int], timeout: Any = None, source_address: Any = None
    ) -> socket.socket:
        """socket.create_connection, with the new socket watched before TLS or HTTP uses it."""
        sock = socket.create_connection(address, timeout, source_address)
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                _shut(sock)
        return sock

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut(sock)

    def handlers(self) -> list[urllib.request.BaseHandler]:
        """urllib handlers whose connections open their sockets through this deadline."""
        return [_HTTPHandler(self), _HTTPSHandler(self)]


def _shut(sock: socket.socket) -> None:
    """The plain socket's shutdown, also for a TLS socket: its own shutdown would tear down
    the TLS state under a read that another thread is blocked in."""
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _HTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args: Any, deadline: RequestDeadline, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # http.client opens its socket through this attribute (for HTTPS too, before the
        # TLS handshake), which makes it the one place every connection's socket passes.
        self._create_connection = deadline.create_connection


class _HTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args: Any, deadline: RequestDeadline, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = deadline.create_connection


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, deadline: RequestDeadline) -> None:
        super().__init__()
        self.deadline = deadline

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_HTTPConnection, req, deadline=self.deadline)  # type: ignore[arg-type]


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, deadline: RequestDeadline) -> None:
        super().__init__()
        self.deadline = deadline

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_HTTPSConnection, req, deadline=self.deadline)  # type: ignore[arg-type]
