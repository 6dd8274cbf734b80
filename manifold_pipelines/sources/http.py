"""The only way a source reaches the network: mock responses first, then real requests to
hosts on the source's allow-list, with a timeout, a size cap and no redirect off the list."""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson

from manifold_pipelines.core.source_config import MockResponse
from manifold_pipelines.errors import ManifoldError

MAX_RESPONSE_BYTES = 16 * 2**20
REQUEST_TIMEOUT_SECONDS = 10.0


class FetchError(ManifoldError):
    """A request the source is not allowed to make, or that failed."""


@dataclass(frozen=True)
class FetchReply:
    status: int
    headers: dict[str, str]
    body: bytes
    url: str


def host_allowed(url: str, allowed_hosts: list[str]) -> bool:
    """`host` allows that host on any port, `host:port` only that port."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    host = parts.hostname.lower()
    port = parts.port or (443 if parts.scheme == "https" else 80)
    allowed = {entry.lower() for entry in allowed_hosts}
    return host in allowed or f"{host}:{port}" in allowed


class _KeepRedirectsOnList(urllib.request.HTTPRedirectHandler):
    def __init__(self, allowed_hosts: list[str]) -> None:
        self.allowed_hosts = allowed_hosts

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        if not host_allowed(newurl, self.allowed_hosts):
            raise FetchError(
                f"{req.full_url} redirected to {newurl}, whose host is not in allowedHosts."
                " Add it to allowedHosts to follow the redirect."
            )
        return super().redirect_request(req, fp, code, msg, headers, newurl)


class HostFetch:
    """Answers a source's requests; everything it refuses names the setting that allows it."""

    def __init__(
        self,
        mock_responses: dict[str, MockResponse],
        allowed_hosts: list[str],
        *,
        max_bytes: int = MAX_RESPONSE_BYTES,
        timeout: float = REQUEST_TIMEOUT_SECONDS,
    ) -> None:
        self.mock_responses = mock_responses
        self.allowed_hosts = allowed_hosts
        self.max_bytes = max_bytes
        self.timeout = timeout

    def fetch(self, url: str, options: dict[str, Any] | None = None) -> FetchReply:
        options = options or {}
        mock = self.mock_responses.get(url)
        if mock is not None:
            return _mock_reply(mock, url)
        if not host_allowed(url, self.allowed_hosts):
            host = urlsplit(url).netloc or url
            raise FetchError(
                f"fetch({url!r}) is not allowed: add {host!r} to allowedHosts to reach it, or a"
                f" mockResponses entry for {url!r} to answer it without the network."
            )
        return self._request(url, options)

    def _request(self, url: str, options: dict[str, Any]) -> FetchReply:
        body = options.get("body")
        data = body.encode() if isinstance(body, str) else None
        request = urllib.request.Request(
            url,
            data=data,
            method=str(options.get("method", "GET")).upper(),
            headers={str(k): str(v) for k, v in (options.get("headers") or {}).items()},
        )
        opener = urllib.request.build_opener(_KeepRedirectsOnList(self.allowed_hosts))
        try:
            with opener.open(request, timeout=self.timeout) as response:
                return self._reply(response, url, response.status)
        except urllib.error.HTTPError as error:
            return self._reply(error, url, error.code)
        except FetchError:
            raise
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise FetchError(
                f"fetch({url!r}) failed: {reason}. Check that the server is up and answers"
                f" within {self.timeout:g} s."
            ) from error

    def _reply(self, response: Any, url: str, status: int) -> FetchReply:
        payload = response.read(self.max_bytes + 1)
        if len(payload) > self.max_bytes:
            raise FetchError(
                f"fetch({url!r}) returned more than {self.max_bytes:,} bytes, the limit for one"
                " response. Ask the API for smaller pages."
            )
        return FetchReply(
            status=status, headers=dict(response.headers.items()), body=payload, url=url
        )


def _mock_reply(mock: MockResponse, url: str) -> FetchReply:
    headers = dict(mock.headers)
    if isinstance(mock.body, str):
        body = mock.body.encode()
        headers.setdefault("content-type", "text/plain")
    else:
        body = orjson.dumps(mock.body)
        headers.setdefault("content-type", "application/json")
    return FetchReply(status=mock.status, headers=headers, body=body, url=url)
