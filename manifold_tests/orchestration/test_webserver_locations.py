"""Locations by project in a real Dagster webserver: the workspace `manifold workspace` writes
starts one code server per location, each lists only its projects' assets, the webserver
joins a dependency across two locations, the UI's asset catalogue opens in Chromium, and a
run rebuilt in its own process uses the catalogue its location pinned at load.

A catalogue change reloads the locations that load the changed project and the projects it
feeds, and no other; which ones reloaded is read from the webserver (each location's load
time), not from what Manifold says it asked. A webserver that is gone leaves the change
saved and says it was not reached."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from manifold_pipelines import SeparatedDatabaseManager
from manifold_pipelines.code_locations import workspace_yaml
from manifold_tests.chromium import rendered_dom
from manifold_tests.dagster_webserver import DagsterWebserver, graphql
from manifold_tests.orchestration.conftest import add_source

DEPENDENCIES = """
query ($path: [String!]!) { assetNodeOrError(assetKey: {path: $path}) { ... on AssetNode {
  dependencyKeys { path } dependedByKeys { path } repository { location { name } } } } }
"""

LOAD_TIMES = """
{ workspaceOrError { ... on Workspace { locationEntries { name updatedTimestamp } } } }
"""


def _dependencies(url: str, key: list[str]) -> dict[str, object]:
    node = graphql(url, DEPENDENCIES, {"path": key})["assetNodeOrError"]
    return {
        "location": node["repository"]["location"]["name"],
        "upstream": ["/".join(k["path"]) for k in node["dependencyKeys"]],
        "downstream": ["/".join(k["path"]) for k in node["dependedByKeys"]],
    }


def _reloaded_by(url: str, change: Callable[[], object]) -> list[str]:
    """The locations the webserver reloaded while `change` ran: those whose load time moved."""

    def load_times() -> dict[str, float]:
        entries = graphql(url, LOAD_TIMES)["workspaceOrError"]["locationEntries"]
        return {e["name"]: e["updatedTimestamp"] for e in entries}

    before = load_times()
    change()
    after = load_times()
    return sorted(name for name, loaded in after.items() if loaded != before[name])


@pytest.mark.slow
def test_locations_by_project_serve_their_slices_reload_what_a_change_touches_and_pin_runs(
    manager: SeparatedDatabaseManager,
    home: Path,
    dagster_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    add_source(manager, "x", project_id="a")
    add_source(manager, "y", project_id="a")
    add_source(manager, "z", [{"id": 1}], project_id="b")
    add_source(manager, "v", project_id="c")
    manager.add_relationship("a/y", "b/z")
    workspace = tmp_path / "locations.yaml"
    workspace.write_text(workspace_yaml(manager.plan_code_locations(1)))
    env = {**os.environ, "MANIFOLD_HOME": str(home), "DAGSTER_HOME": str(dagster_home)}
    with DagsterWebserver(workspace, env, load_timeout=180) as server:
        listed = {e["name"]: sorted(server.asset_catalogue(e["name"])) for e in server.locations()}
        assert listed == {"manifold_pipelines": ["a/x", "a/y"], "b": ["b/z"], "c": ["c/v"]}
        assert _dependencies(server.url, ["a", "y"]) == {
            "location": "manifold_pipelines",
            "upstream": [],
            "downstream": ["b/z"],
        }
        assert _dependencies(server.url, ["b", "z"])["upstream"] == ["a/y"]

        dom = rendered_dom(f"{server.url}/assets", tmp_path / "chromium", wait_ms=30_000)
        for description in ("X (javascript source)", "Z (javascript source)"):
            assert description in dom

        # A new source of c, which feeds nothing, reloads c's location alone.
        monkeypatch.setenv("MANIFOLD_DAGSTER_URL", server.url)
        alone = _reloaded_by(server.url, lambda: add_source(manager, "u", project_id="c"))
        assert alone == ["c"]
        assert manager.last_reload == "reloaded code location 'c' (LOADED)"
        assert sorted(server.asset_catalogue("c")) == ["c/u", "c/v"]

        # Deleting a/y, a's one link to b, reloads b's location as well as a's: the projects
        # it feeds are read before the delete takes its relationships with it.
        deleted = _reloaded_by(server.url, lambda: manager.delete_data_source("a", "y"))
        assert deleted == ["b", "manifold_pipelines"]
        assert server.asset_catalogue("manifold_pipelines") == ["a/x"]
        assert _dependencies(server.url, ["b", "z"])["upstream"] == []

        # A new relationship changes the downstream's definitions alone: b's location reloads
        # and the webserver joins the new edge to a/x, whose location did not reload.
        linked = _reloaded_by(server.url, lambda: manager.add_relationship("a/x", "b/z"))
        assert linked == ["b"]
        assert _dependencies(server.url, ["b", "z"])["upstream"] == ["a/x"]
        assert _dependencies(server.url, ["a", "x"])["downstream"] == ["b/z"]

        # Changed after b's location loaded, without a reload: the run uses what b pinned.
        monkeypatch.delenv("MANIFOLD_DAGSTER_URL")
        manager.update_data_source(
            "b", "z", config={"script": "return rows;", "variables": {"rows": [{"id": 9}]}}
        )
        assert server.materialize("b", ["b", "z"])[1] == "SUCCESS"
    assert manager.get_latest_data("b", "z").data == [{"id": 1}]

    # The webserver is gone: the change is saved all the same, and the message says so.
    monkeypatch.setenv("MANIFOLD_DAGSTER_URL", server.url)
    add_source(manager, "t", project_id="c")
    assert [s.id for s in manager.list_data_sources("c")] == ["t", "u", "v"]
    assert manager.last_reload == (
        f"could not reach the Dagster webserver at {server.url} (Connection refused); the"
        " catalogue is saved, the webserver shows what it loaded last. Press Reload on the UI's"
        " code locations page once it runs, or correct the URL (MANIFOLD_DAGSTER_URL or the"
        " dagster setting's webserverUrl)."
    )
