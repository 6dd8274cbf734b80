"""The only way a source reaches the network: mock responses first, then real requests to
hosts on the source's allow-list, with an overall deadline, a size cap and no redirect off the
list. Every way a request can fail ends in a FetchError, which a script receives as the
TypeError a browser would give it."""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from manifold_pipelines.core.source_config import MockResponse
from manifold_pipelines.errors import ManifoldError
from manifold_pipelines.sources.request_deadline import RequestDeadline

MAX_RESPONSE_BYTES = 16 * 2**20
IDLE_TIMEOUT_SECONDS = 10.0
# An HTTP method is a token (RFC 9110): no spaces, no control characters.
_TOKEN = r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"
# What can go wrong inside urllib and http.client: sockets and TLS (OSError, URLError),
# broken answers (IncompleteRead, InvalidURL, LineTooLong: HTTPException), and values
# http.client refuses to send (ValueError: a newline in a header, a port out of range).
_REQUEST_FAILURES = (OSError, http.client.HTTPException, ValueError)


class FetchError(ManifoldError):
    """A request the source is not allowed to make, or that failed."""


@dataclass(frozen=True)
class FetchReply:
    status: int
    headers: dict[str, str]
    body: bytes
    url: str


class FetchRequest(BaseModel):
    """What a script may ask of fetch, as the prelude hands it over: headers as [name, value]
    pairs (the Fetch standard's sequence form; a record arrives as pairs too)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: Annotated[str, Field(pattern=_TOKEN)] = "GET"
    headers: list[tuple[str, str]] = []
    body: str | None = None


def host_allowed(url: str, allowed_hosts: list[str]) -> bool:
    """`host` allows that host on any port, `host:port` only that port."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return False
    host = parts.hostname.lower()
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
        idle_timeout: float = IDLE_TIMEOUT_SECONDS,
    ) -> None:
        self.mock_responses = mock_responses
        self.allowed_hosts = allowed_hosts
        self.max_bytes = max_bytes
        self.idle_timeout = idle_timeout

    def fetch(self, url: str, options: object = None, *, within: float) -> FetchReply:
        """Answer `url` within `within` seconds in all, or raise FetchError. `options` come
        from a script (through the prelude, or forged by it) and are validated here."""
        mock = self.mock_responses.get(url)
        if mock is not None:
            return _mock_reply(mock, url)
        _check_url(url)
        if not host_allowed(url, self.allowed_hosts):
            host = urlsplit(url).netloc or url
            raise FetchError(
                f"fetch({url!r}) is not allowed: add {host!r} to allowedHosts to reach it, or a"
                f" mockResponses entry for {url!r} to answer it without the network."
            )
        return self._request(url, _request_of(url, options), within)

    def _request(self, url: str, wanted: FetchRequest, within: float) -> FetchReply:
        too_slow = FetchError(
            f"fetch({url!r}) did not finish within {within:.3g} s (timeoutSeconds bounds a run"
            " and every fetch in it): the server answered too slowly. Raise timeoutSeconds, or"
            " ask the server for less."
        )
        if within <= 0:
            raise too_slow
        with RequestDeadline(within) as deadline:
            opener = urllib.request.build_opener(
                _KeepRedirectsOnList(self.allowed_hosts), *deadline.handlers()
            )
            try:
                reply = self._exchange(opener, _urllib_request(url, wanted), url, deadline)
            except FetchError:
                raise
            except _REQUEST_FAILURES as error:
                if deadline.expired:
                    raise too_slow from error
                raise FetchError(
                    f"fetch({url!r}) failed: {_reason(error)}. Check the URL and the request's"
                    " headers, and that the server is up and sends a whole answer."
                ) from error
        if deadline.expired:
            raise too_slow
        return reply

    def _exchange(
        self,
        opener: urllib.request.OpenerDirector,
        request: urllib.request.Request,
        url: str,
        deadline: RequestDeadline,
    ) -> FetchReply:
        timeout = min(self.idle_timeout, deadline.remaining())
        try:
            with opener.open(request, timeout=timeout) as response:
                return self._reply(response, url, response.status)
        except urllib.error.HTTPError as error:
            with error:
                return self._reply(error, url, error.code)

    def _reply(self, response: Any, url: str, status: int) -> FetchReply:
        payload = response.read(self.max_bytes + 1)
        if len(payload) > self.max_bytes:
            raise FetchError(
                f"fetch({url!r}) returned more than {self.max_bytes:,} bytes, the limit for one"
                " response. Ask the API for smaller pages."
            )
        # http.client returns a body cut short by the server without a word when it is read
        # with a size: what Content-Length still promised says so.
        if getattr(response, "length", None):
            raise http.client.IncompleteRead(payload, response.length)
        return FetchReply(
            status=status, headers=dict(response.headers.items()), body=payload, url=url
        )


def _reason(error: BaseException) -> str:
    text = str(getattr(error, "reason", None) or error)
    return text or type(error).__name__


def _check_url(url: str) -> None:
    """urlsplit checks a port only when it is asked for one."""
    try:
        _ = urlsplit(url).port
    except ValueError as error:
        raise FetchError(
            f"fetch({url!r}): {url!r} is not a valid URL ({error}). Check its host and port."
        ) from error


def _request_of(url: str, options: object) -> FetchRequest:
    try:
        return FetchRequest.model_validate({} if options is None else options)
    except ValidationError as error:
        problem = error.errors()[0]
        where = ".".join(str(part) for part in problem["loc"]) or "options"
        raise FetchError(
            f"fetch({url!r}): options.{where} is not valid ({problem['msg']}). Give a method"
            " such as 'GET', headers as an object or [name, value] pairs, and a string body."
        ) from error


def _urllib_request(url: str, wanted: FetchRequest) -> urllib.request.Request:
    """Repeated header names are combined with ', ', as the Fetch standard combines them."""
    headers: dict[str, str] = {}
    names: dict[str, str] = {}
    for name, value in wanted.headers:
        key = names.setdefault(name.lower(), name)
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return urllib.request.Request(
        url,
        data=None if wanted.body is None else wanted.body.encode("utf-8", "replace"),
        method=wanted.method.upper(),
        headers=headers,
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
