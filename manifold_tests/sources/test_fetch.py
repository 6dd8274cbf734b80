"""fetch reaches the network only for hosts on the allow-list, with a timeout and a size cap;
everything else is refused with the setting that would allow it."""

from __future__ import annotations

from pathlib import Path

import pytest

from manifold_pipelines import SeparatedDatabaseManager
from manifold_pipelines.sources.base import SourceRunError
from manifold_pipelines.sources.http import FetchError, HostFetch
from manifold_tests.conftest import make_source

CASES = Path(__file__).parents[1] / "cases" / "scripts" / "good"


def _host(url: str) -> str:
    return url.removeprefix("http://")


def test_allowed_host_is_fetched_with_the_secret_from_env(
    manager: SeparatedDatabaseManager, http_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("API_TOKEN", "s3cret")
    make_source(
        manager,
        script=(CASES / "fetch_live.js").read_text(),
        variables={"base": http_server},
        env=["API_TOKEN"],
        allowedHosts=[_host(http_server)],
    )
    result = manager.run_data_source("demo", "api")
    assert result.record_count == 3
    assert [r["name"] for r in manager.get_latest_data("demo", "api").data] == ["a", "b", "c"]
    log = manager.get_import_logs("demo", "api")[0].log or ""
    assert f"fetch {http_server}/items?page=2 -> 200" in log


def test_host_without_port_on_the_list_allows_any_port(http_server: str) -> None:
    reply = HostFetch({}, ["127.0.0.1"]).fetch(f"{http_server}/data.csv", within=5)
    assert reply.status == 200 and reply.body.startswith(b"id,name")


def test_http_errors_reach_the_script_as_responses(
    manager: SeparatedDatabaseManager, http_server: str
) -> None:
    script = f"""
    const r = await fetch("{http_server}/items");
    return [{{ id: 1, ok: r.ok, status: r.status, body: await r.json(),
               type: r.headers.get("Content-Type") }}];
    """
    make_source(manager, script=script, allowedHosts=[_host(http_server)])
    manager.run_data_source("demo", "api")
    assert manager.get_latest_data("demo", "api").data == [
        {
            "id": 1,
            "ok": False,
            "status": 401,
            "body": {"error": "no token"},
            "type": "application/json",
        }
    ]


def test_unlisted_host_is_refused_even_on_loopback(
    manager: SeparatedDatabaseManager, http_server: str
) -> None:
    make_source(manager, script=f'await fetch("{http_server}/data.csv"); return []')
    with pytest.raises(
        SourceRunError, match=r"is not allowed: add '127\.0\.0\.1:\d+' to allowedHosts"
    ):
        manager.run_data_source("demo", "api")


def test_a_script_may_catch_a_refused_fetch(manager: SeparatedDatabaseManager) -> None:
    script = """
    try { await fetch("http://10.0.0.1/"); } catch (e) { return [{ id: 1, why: e.message }]; }
    """
    make_source(manager, script=script)
    manager.run_data_source("demo", "api")
    assert (
        manager.get_latest_data("demo", "api")
        .data[0]["why"]
        .startswith("fetch('http://10.0.0.1/') is not allowed: add '10.0.0.1' to allowedHosts")
    )


def test_oversize_response_is_refused(manager: SeparatedDatabaseManager, http_server: str) -> None:
    make_source(
        manager,
        script=f'await fetch("{http_server}/big"); return []',
        allowedHosts=[_host(http_server)],
    )
    with pytest.raises(SourceRunError, match="returned more than 16,777,216 bytes"):
        manager.run_data_source("demo", "api")


def test_slow_server_times_out(manager: SeparatedDatabaseManager, http_server: str) -> None:
    make_source(
        manager,
        script=f'await fetch("{http_server}/slow"); return []',
        allowedHosts=[_host(http_server)],
        timeoutSeconds=1.5,
    )
    with pytest.raises(SourceRunError, match=r"timed out|did not finish within"):
        manager.run_data_source("demo", "api")


def test_redirect_off_the_list_is_refused(http_server: str) -> None:
    with pytest.raises(FetchError, match=r"redirected to http://evil\.example\.com/"):
        HostFetch({}, [_host(http_server)]).fetch(f"{http_server}/redirect", within=5)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://x/y", "not a url", "http://"])
def test_non_http_urls_are_refused(url: str) -> None:
    with pytest.raises(FetchError, match="is not allowed"):
        HostFetch({}, ["x", "127.0.0.1"]).fetch(url, within=5)


def test_mock_responses_answer_text_and_status(manager: SeparatedDatabaseManager) -> None:
    script = """
    const a = await fetch("https://mock/text"); const b = await fetch("https://mock/missing");
    return [{ id: 1, text: await a.text(), status: b.status, ok: b.ok }];
    """
    make_source(
        manager,
        script=script,
        mockResponses={
            "https://mock/text": {"body": "plain words"},
            "https://mock/missing": {"status": 404, "body": {"error": "gone"}},
        },
    )
    manager.run_data_source("demo", "api")
    assert manager.get_latest_data("demo", "api").data == [
        {"id": 1, "text": "plain words", "status": 404, "ok": False}
    ]
