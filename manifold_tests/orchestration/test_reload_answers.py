"""What a catalogue change says when the configured webserver URL does not lead to a Dagster
webserver: another server answering there, another GraphQL API, or nothing listening. The
change is saved in every case, and the message names the URL and what to correct."""

from __future__ import annotations

import socket
from http.server import BaseHTTPRequestHandler

import pytest

from manifold_pipelines import SeparatedDatabaseManager
from manifold_tests.http_serving import serving
from manifold_tests.orchestration.conftest import add_source


def answering(body: bytes) -> type[BaseHTTPRequestHandler]:
    class Answer(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    return Answer


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b"[]", ""),
        (b'{"data": null}', ""),
        (b'{"errors": [{"message": "Cannot query field"}]}', " ([{'message': 'Cannot query"),
    ],
    ids=["a JSON list", "no data", "another GraphQL API"],
)
def test_another_server_at_the_url_is_reported_and_the_change_is_saved(
    manager: SeparatedDatabaseManager, monkeypatch: pytest.MonkeyPatch, body: bytes, said: str
) -> None:
    with serving(answering(body)) as url:
        monkeypatch.setenv("MANIFOLD_DAGSTER_URL", url)
        add_source(manager, "api", [{"id": 1}])
    assert [s.id for s in manager.list_data_sources("shop")] == ["api"]
    assert manager.last_reload is not None
    assert manager.last_reload.startswith(
        f"the server at {url} did not answer as a Dagster webserver{said}"
    )
    assert manager.last_reload.endswith(
        "; the catalogue is saved. Check that MANIFOLD_DAGSTER_URL or the dagster setting's"
        " webserverUrl names the Dagster webserver."
    )


def test_nothing_listening_at_the_url_is_reported_and_the_change_is_saved(
    manager: SeparatedDatabaseManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    monkeypatch.setenv("MANIFOLD_DAGSTER_URL", f"http://127.0.0.1:{port}")
    add_source(manager, "api", [{"id": 1}])
    assert [s.id for s in manager.list_data_sources("shop")] == ["api"]
    assert manager.last_reload == (
        f"could not reach the Dagster webserver at http://127.0.0.1:{port} (Connection"
        " refused); the catalogue is saved, the webserver shows what it loaded last. Press"
        " Reload on the UI's code locations page once it runs, or correct the URL"
        " (MANIFOLD_DAGSTER_URL or the dagster setting's webserverUrl)."
    )
