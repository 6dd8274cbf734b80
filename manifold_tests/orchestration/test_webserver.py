"""Smoke test of the UI's path: start the Dagster webserver on 127.0.0.1, wait for the code
location, launch materializations through GraphQL and read their results back. Also checks
that a run uses the config pinned at load, that a source deleted since fails with a clear
message, that a catalogue change through the API reloads the code location (workspace.yaml's
one location, whichever location the layout names), and that every scheduled asset's page
names the schedule or sensor that runs it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from manifold_pipelines import SeparatedDatabaseManager
from manifold_tests.dagster_webserver import DagsterWebserver, graphql
from manifold_tests.orchestration.conftest import add_source

REPO = Path(__file__).parents[2]


def _asset_keys(url: str) -> set[str]:
    data = graphql(url, "{ assetNodes { assetKey { path } } }")
    return {"/".join(node["assetKey"]["path"]) for node in data["assetNodes"]}


@pytest.fixture
def webserver(home: Path, dagster_home: Path) -> Iterator[DagsterWebserver]:
    env = {**os.environ, "MANIFOLD_HOME": str(home), "DAGSTER_HOME": str(dagster_home)}
    with DagsterWebserver(REPO / "workspace.yaml", env, load_timeout=120) as server:
        yield server


@pytest.mark.slow
def test_webserver_launches_and_reports_materializations(
    manager: SeparatedDatabaseManager,
    dagster_home: Path,
    webserver: DagsterWebserver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    add_source(manager, "api", [{"id": 1}, {"id": 2}], project_id="demo")
    add_source(manager, "gone", project_id="demo")
    manager.reload_dagster()  # no webserver configured yet: nothing happens
    assert manager.last_reload is None
    monkeypatch.setenv("MANIFOLD_DAGSTER_URL", webserver.url)
    assert "reloaded code location 'manifold_pipelines' (LOADED)" in (
        manager.reload_dagster() or ""
    )
    assert _asset_keys(webserver.url) == {"demo/api", "demo/gone"}

    # Changed and deleted after the load, without a reload: runs use what was loaded.
    monkeypatch.delenv("MANIFOLD_DAGSTER_URL")
    manager.update_data_source(
        "demo", "api", config={"script": "return rows;", "variables": {"rows": [{"id": 9}]}}
    )
    manager.delete_data_source("demo", "gone")
    run_id, status = webserver.materialize("manifold_pipelines", ["demo", "api"])
    assert status == "SUCCESS"
    assert manager.get_latest_data("demo", "api").data == [{"id": 1}, {"id": 2}]

    data = graphql(
        webserver.url,
        """
      query ($runId: ID!) { runOrError(runId: $runId) { ... on Run { status
        assetMaterializations { assetKey { path } metadataEntries { label
          ... on IntMetadataEntry { intValue } ... on MarkdownMetadataEntry { mdStr } } } } } }""",
        {"runId": run_id},
    )
    (materialization,) = data["runOrError"]["assetMaterializations"]
    entries = {
        e["label"]: e.get("intValue", e.get("mdStr")) for e in materialization["metadataEntries"]
    }
    assert entries["version"] == 1 and entries["dagster/row_count"] == 2
    assert entries["added"] == 2 and entries["changes"].startswith("**2 added** (first version)")
    assert "- `id` = `1`\n- `id` = `2`" in entries["changes"]
    node = graphql(
        webserver.url,
        '{ assetNodeOrError(assetKey: {path: ["demo", "api"]}) { ... on AssetNode {'
        " metadataEntries { label ... on MarkdownMetadataEntry { mdStr } } } } }",
    )["assetNodeOrError"]
    config = next(e for e in node["metadataEntries"] if e["label"] == "manifold/config")
    assert config["mdStr"].startswith("**Script** (javascript)\n\n```javascript\nreturn rows;")

    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        evaluations = instance.get_records_for_run(
            run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
        ).records
        checks = {
            r.event_log_entry.dagster_event.event_specific_data.check_name for r in evaluations
        }
        assert checks == {
            "has_enough_records",
            "fields_are_complete",
            "keys_are_unique",
            "change_rate_within_threshold",
            "removed_rate_within_threshold",
            "schema_is_stable",
        }
        gone_run, gone_status = webserver.materialize("manifold_pipelines", ["demo", "gone"])
        assert gone_status == "FAILURE"
        failures = [
            r.dagster_event.step_failure_data.user_failure_data.description
            for r in instance.all_logs(gone_run, of_type=dg.DagsterEventType.STEP_FAILURE)
        ]
        assert len(failures) == 1 and "Data source 'demo/gone' does not exist" in failures[0]

    # A change through the API with the webserver configured reloads the code location, even
    # when the layout puts the project in a location this single-location webserver does not
    # know: it answers RepositoryLocationNotFound, and its one location reloads instead.
    manager.set_setting(
        "dagster", {"webserverUrl": webserver.url, "locations": {"elsewhere": ["demo"]}}
    )
    add_source(manager, "fresh", project_id="demo")
    assert manager.last_reload == "reloaded code location 'manifold_pipelines' (LOADED)"
    assert _asset_keys(webserver.url) == {"demo/api", "demo/fresh"}


@pytest.mark.slow
def test_every_scheduled_asset_page_shows_what_runs_it(
    catalog_manager: SeparatedDatabaseManager, webserver: DagsterWebserver
) -> None:
    """The UI's "Automation" on an asset page is its `targetingInstigators`: the interval's
    schedule, or the odd-interval sensor. An unscheduled source is run by nothing."""
    data = graphql(
        webserver.url,
        "{ assetNodes { assetKey { path } targetingInstigators {"
        " ... on Schedule { name } ... on Sensor { name } } } }",
    )
    shown = {
        "/".join(node["assetKey"]["path"]): sorted(i["name"] for i in node["targetingInstigators"])
        for node in data["assetNodes"]
    }
    assert shown == {
        "shop/orders": ["sync_every_15_minutes"],
        "shop/customers": ["sync_every_60_minutes"],
        "analytics/report": ["sync_every_60_minutes"],
        "shop/stock-levels": ["sync_every_90_minutes"],
        "shop/daily-prices": ["sync_every_1440_minutes"],
        "shop/odd-feed": ["sync_odd_intervals"],
        "shop/manual": [],
    }
    # What a tick of that schedule launches: its job, run for the one source it requests.
    run = webserver.materialize(
        "manifold_pipelines", ["shop", "orders"], "sources_every_15_minutes"
    )
    assert run[1] == "SUCCESS"
    assert catalog_manager.get_latest_data("shop", "orders").version == 1
    assert catalog_manager.list_versions("shop", "customers") == []
