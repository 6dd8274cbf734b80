"""Which code locations a catalogue change reloads. A local HTTP server answers the reload
mutation as Dagster's webserver does (a loaded location, or RepositoryLocationNotFound) and
records what it was asked; the real webserver is in orchestration/test_webserver*.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from manifold_pipelines import SeparatedDatabaseManager
from manifold_tests.conftest import make_source
from manifold_tests.http_serving import serving


class Webserver:
    def __init__(self, known: set[str]) -> None:
        self.known = known
        self.asked: list[str] = []


@pytest.fixture
def webserver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Webserver]:
    """Knows the locations of `planned`, until a test says otherwise."""
    state = Webserver({"manifold_pipelines", "b", "c"})

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            name = body["variables"]["name"]
            state.asked.append(name)
            if name in state.known:
                result = {
                    "__typename": "WorkspaceLocationEntry",
                    "name": name,
                    "loadStatus": "LOADED",
                }
            else:
                result = {
                    "__typename": "RepositoryLocationNotFound",
                    "message": f"Location {name} does not exist.",
                }
            answer = json.dumps({"data": {"reloadRepositoryLocation": result}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:
            pass

    with serving(Handler) as url:
        monkeypatch.setenv("MANIFOLD_DAGSTER_URL", url)
        yield state


@pytest.fixture
def planned(manager: SeparatedDatabaseManager) -> SeparatedDatabaseManager:
    """Projects a (home), b and c in locations of their own; b/z feeds c/v. Requested before
    `webserver`, so planning asks for no reload."""
    for project, source in (("a", "x"), ("b", "z"), ("c", "v")):
        make_source(manager, project, source)
    manager.add_relationship("b/z", "c/v")
    manager.plan_code_locations(1)
    return manager


def test_a_change_reloads_the_location_of_its_project_alone(
    planned: SeparatedDatabaseManager, webserver: Webserver
) -> None:
    planned.update_data_source("a", "x", sync_interval=60)
    make_source(planned, "c", "u")
    assert webserver.asked == ["manifold_pipelines", "c"]
    assert planned.last_reload == "reloaded code location 'c' (LOADED)"


def test_a_change_to_a_feeding_source_reloads_the_locations_it_feeds_too(
    planned: SeparatedDatabaseManager, webserver: Webserver
) -> None:
    planned.delete_data_source("b", "z")
    assert webserver.asked == ["b", "c"]
    assert planned.last_reload == (
        "reloaded code location 'b' (LOADED); reloaded code location 'c' (LOADED)"
    )


def test_a_new_relationship_reloads_the_downstream_location(
    planned: SeparatedDatabaseManager, webserver: Webserver
) -> None:
    planned.add_relationship("a/x", "b/z")
    assert webserver.asked == ["b", "c"]  # b's sources feed c, which is reloaded as well


def test_a_webserver_on_the_single_location_workspace_reloads_its_one_location(
    planned: SeparatedDatabaseManager, webserver: Webserver
) -> None:
    webserver.known = {"manifold_pipelines"}
    planned.update_data_source("c", "v", sync_interval=30)
    assert webserver.asked == ["c", "manifold_pipelines"]
    assert planned.last_reload == "reloaded code location 'manifold_pipelines' (LOADED)"


def test_reloading_without_projects_reloads_every_location(
    planned: SeparatedDatabaseManager, webserver: Webserver
) -> None:
    planned.reload_dagster()
    assert webserver.asked == ["manifold_pipelines", "b", "c"]
