"""Locations by project in a real Dagster webserver: the workspace `manifold workspace` writes
starts one code server per location, each lists only its projects' assets, the webserver
joins a dependency across two locations, the UI's asset catalogue opens in Chromium, a
catalogue change reloads only the location that loads it, and a run rebuilt in its own
process uses the catalogue its location pinned at load."""

from __future__ import annotations

import os
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


def _dependencies(url: str, key: list[str]) -> dict[str, object]:
    node = graphql(url, DEPENDENCIES, {"path": key})["assetNodeOrError"]
    return {
        "location": node["repository"]["location"]["name"],
        "upstream": ["/".join(k["path"]) for k in node["dependencyKeys"]],
        "downstream": ["/".join(k["path"]) for k in node["dependedByKeys"]],
    }


@pytest.mark.slow
def test_locations_by_project_serve_their_slices_reload_alone_and_pin_their_runs(
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

        # A new source of c reloads c's location alone.
        monkeypatch.setenv("MANIFOLD_DAGSTER_URL", server.url)
        add_source(manager, "u", project_id="c")
        assert manager.last_reload == "reloaded code location 'c' (LOADED)"
        assert sorted(server.asset_catalogue("c")) == ["c/u", "c/v"]

        # Changed after b's location loaded, without a reload: the run uses what b pinned.
        monkeypatch.delenv("MANIFOLD_DAGSTER_URL")
        manager.update_data_source(
            "b", "z", config={"script": "return rows;", "variables": {"rows": [{"id": 9}]}}
        )
        assert server.materialize("b", ["b", "z"])[1] == "SUCCESS"
    assert manager.get_latest_data("b", "z").data == [{"id": 1}]
