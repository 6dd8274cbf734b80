"""A fetch meets servers and URLs that misbehave. Whatever fails, the script gets what a
browser gives it, a TypeError it can catch, never a host error that ends the run; and no
server, however slowly it answers, holds a run past its timeoutSeconds."""

from __future__ import annotations

import json
import time

import pytest

from manifold_pipelines import SeparatedDatabaseManager
from manifold_pipelines.sources.base import SourceRunError
from manifold_pipelines.sources.http import FetchError, HostFetch
from manifold_tests.conftest import make_source

GOOD_VERSION = [{"id": 1, "name": "kept"}]
CATCHING = """
try {
  const r = await fetch(URL, OPTIONS);
  return [{ id: 1, outcome: "resolved", status: r.status, body: await r.text() }];
} catch (e) {
  return [{ id: 1, outcome: "rejected", name: e.name, typeError: e instanceof TypeError,
            message: e.message }];
}
"""


def _catching(manager: SeparatedDatabaseManager, server: str, url: str, options: str) -> dict:
    script = CATCHING.replace("URL", json.dumps(url)).replace("OPTIONS", options)
    make_source(manager, script=script, allowedHosts=["127.0.0.1"])
    manager.run_data_source("demo", "api")
    (record,) = manager.get_latest_data("demo", "api").data
    return record


@pytest.mark.parametrize(
    ("path", "options", "words"),
    [
        ("http://127.0.0.1:99999/", "{}", "is not a valid URL"),
        ("/truncated", "{}", "failed: IncompleteRead(0 bytes read, 100 more expected)"),
        ("/a b", "{}", "failed: URL can't contain control characters"),
        ("/echo-headers", '{ headers: [["X-One"]] }', "is not a [name, value] pair"),
        ("/echo-headers", '{ headers: { "X-Bad": "a\\r\\nb" } }', "failed: Invalid header value"),
        ("/echo-headers", "{ headers: 5 }", "headers must be an object"),
        ("/echo-headers", '{ method: "GE T" }', "options.method is not valid"),
        ("/echo-headers", "'GET'", "options must be an object"),
    ],
    ids=[
        "port-out-of-range",
        "incomplete-read",
        "invalid-url",
        "short-header-pair",
        "newline-in-header",
        "headers-not-an-object",
        "space-in-method",
        "options-not-an-object",
    ],
)
def test_a_failing_fetch_rejects_with_a_type_error_the_script_catches(
    manager: SeparatedDatabaseManager, http_server: str, path: str, options: str, words: str
) -> None:
    url = path if path.startswith("http") else http_server + path
    record = _catching(manager, http_server, url, options)
    assert (record["outcome"], record["name"], record["typeError"]) == (
        "rejected",
        "TypeError",
        True,
    )
    assert words in record["message"]


def test_headers_given_as_name_value_pairs_reach_the_server(
    manager: SeparatedDatabaseManager, http_server: str
) -> None:
    options = '{ headers: [["X-One", "1"], ["X-Two", 2]] }'
    record = _catching(manager, http_server, f"{http_server}/echo-headers", options)
    assert record["outcome"] == "resolved"
    sent = json.loads(record["body"])
    assert (sent["X-One"], sent["X-Two"]) == ("1", "2")


def test_an_uncaught_failing_fetch_fails_the_run_with_its_message(
    manager: SeparatedDatabaseManager,
) -> None:
    make_source(
        manager,
        script='await fetch("http://127.0.0.1:99999/"); return []',
        allowedHosts=["127.0.0.1"],
    )
    manager.import_data("demo", "api", GOOD_VERSION)
    with pytest.raises(SourceRunError, match=r"the script threw TypeError: .*is not a valid URL"):
        manager.run_data_source("demo", "api")
    assert manager.get_latest_data("demo", "api").data == GOOD_VERSION


@pytest.mark.parametrize("path", ["/trickle", "/trickle-head"])
@pytest.mark.slow
def test_a_trickling_server_cannot_hold_a_script_past_timeout_seconds(
    manager: SeparatedDatabaseManager, http_server: str, path: str
) -> None:
    make_source(
        manager,
        script=f'await fetch("{http_server}{path}"); return []',
        allowedHosts=["127.0.0.1"],
        timeoutSeconds=2,
    )
    manager.import_data("demo", "api", GOOD_VERSION)
    started = time.monotonic()
    with pytest.raises(SourceRunError, match=r"timed out after 2 s|did not finish within"):
        manager.run_data_source("demo", "api")
    assert time.monotonic() - started < 2 + 1.5
    assert manager.get_latest_data("demo", "api").data == GOOD_VERSION


def test_a_url_file_source_stops_at_its_timeout_seconds(
    manager: SeparatedDatabaseManager, http_server: str
) -> None:
    manager.create_project(name="Files", id="files")
    manager.create_data_source(
        "files",
        name="f",
        type="csv",
        id="f",
        config={
            "url": f"{http_server}/trickle",
            "allowedHosts": ["127.0.0.1"],
            "timeoutSeconds": 1.5,
        },
    )
    manager.import_data("files", "f", GOOD_VERSION)
    started = time.monotonic()
    with pytest.raises(SourceRunError, match=r"did not finish within 1\.5 s \(timeoutSeconds"):
        manager.run_data_source("files", "f")
    assert time.monotonic() - started < 1.5 + 1.5
    assert manager.get_latest_data("files", "f").data == GOOD_VERSION
    assert manager.get_import_logs("files", "f")[0].status == "failed"


def test_a_deadline_bounds_the_whole_request_not_each_read(http_server: str) -> None:
    started = time.monotonic()
    with pytest.raises(FetchError, match="did not finish within 1 s"):
        HostFetch({}, ["127.0.0.1"]).fetch(f"{http_server}/trickle", within=1)
    assert time.monotonic() - started < 1.5
