"""Materializing a source runs it and versions it; its quality metrics come back as checks
with the right severity, and a blocking failure holds the version back (write-audit-publish)."""

from __future__ import annotations

import dagster as dg
import pytest

from manifold_pipelines import SeparatedDatabaseManager
from manifold_pipelines.orchestration.definitions import build_definitions
from manifold_pipelines.orchestration.snapshot import read_catalog
from manifold_tests.orchestration.conftest import add_source

ROWS = [{"id": i, "name": f"n{i}", "email": f"e{i}@x"} for i in range(10)]


def _materialize(
    manager: SeparatedDatabaseManager, key: str, instance: dg.DagsterInstance | None = None
) -> dg.ExecuteInProcessResult:
    defs = build_definitions(read_catalog(manager))
    assets = [a for a in defs.assets if isinstance(a, dg.AssetsDefinition)]
    return dg.materialize(
        assets,
        instance=instance or dg.DagsterInstance.ephemeral(),
        selection=[key],
        raise_on_error=False,
    )


def _metadata(result: dg.ExecuteInProcessResult) -> dict[str, object]:
    (event,) = result.get_asset_materialization_events()
    return {k: v.value for k, v in event.materialization.metadata.items()}


def _checks(result: dg.ExecuteInProcessResult) -> dict[str, tuple[bool, str]]:
    return {
        e.check_name: (e.passed, e.severity.value) for e in result.get_asset_check_evaluations()
    }


def test_materialization_reports_version_diff_and_checks(manager: SeparatedDatabaseManager) -> None:
    add_source(manager, "api", ROWS, script="console.log('hello'); return rows;")
    instance = dg.DagsterInstance.ephemeral()
    first = _materialize(manager, "shop/api", instance)
    assert first.success
    assert (_metadata(first)["version"], _metadata(first)["added"]) == (1, 10)
    messages = [record.user_message for record in instance.all_logs(first.run_id)]
    assert "[info] hello" in messages
    manager.update_data_source(
        "shop",
        "api",
        config={
            "script": "return rows;",
            "variables": {"rows": [*ROWS[:9], {"id": 99, "vip": True}]},
        },
    )
    second = _materialize(manager, "shop/api")
    assert second.success
    metadata = _metadata(second)
    assert metadata["version"] == 2 and metadata["dagster/row_count"] == 10
    assert (metadata["added"], metadata["removed"], metadata["modified"]) == (1, 1, 0)
    assert "- `id` = `99`: `vip` `true`" in metadata["changes"]
    assert '- `id` = `9`: `name` `"n9"`; `email` `"e9@x"`' in metadata["changes"]
    assert [c.name for c in metadata["schema"].columns] == ["email", "id", "name", "vip"]
    assert metadata["file_size_bytes"] > 0 and metadata["status"] == "published"
    assert metadata["source_status"] == "idle"
    checks = _checks(second)
    assert checks["has_enough_records"] == (True, "ERROR")
    assert checks["schema_is_stable"] == (False, "WARN")
    assert checks["fields_are_complete"] == (False, "WARN")  # 'vip' is in 1 record of 10
    assert checks["change_rate_within_threshold"] == (True, "ERROR")
    assert len(checks) == 6
    stored = manager.get_quality_metrics("shop", "api", 2)
    assert {m.metric for m in stored} >= {"record_count", "schema_changes", "completeness"}


def test_console_output_reaches_the_run_log(manager: SeparatedDatabaseManager) -> None:
    add_source(manager, "api", ROWS, script="console.warn('careful now'); return rows;")
    instance = dg.DagsterInstance.ephemeral()
    defs = build_definitions(read_catalog(manager))
    assets = [a for a in defs.assets if isinstance(a, dg.AssetsDefinition)]
    result = dg.materialize(assets, instance=instance, selection=["shop/api"])
    messages = [record.user_message for record in instance.all_logs(result.run_id)]
    assert any("[warn] careful now" in message for message in messages)


def test_a_failing_check_errors_and_a_blocking_one_holds_the_version(
    manager: SeparatedDatabaseManager,
) -> None:
    add_source(
        manager, "api", ROWS, quality={"removedRate": {"fail": 0.3}, "blocking": ["removed_rate"]}
    )
    assert _materialize(manager, "shop/api").success
    manager.update_data_source(
        "shop",
        "api",
        config={
            "script": "return rows;",
            "variables": {"rows": ROWS[:5]},
            "quality": {"removedRate": {"fail": 0.3}, "blocking": ["removed_rate"]},
        },
    )
    held = _materialize(manager, "shop/api")
    assert not held.success  # a blocking ERROR check fails the step
    assert _checks(held)["removed_rate_within_threshold"] == (False, "ERROR")
    assert [v.status for v in manager.list_versions("shop", "api")] == ["published", "held"]
    assert manager.get_latest_data("shop", "api").data == ROWS
    manager.publish_version("shop", "api", 2)
    assert manager.get_latest_data("shop", "api").data == ROWS[:5]


def test_a_non_blocking_failure_does_not_fail_the_run(manager: SeparatedDatabaseManager) -> None:
    add_source(manager, "api", ROWS, quality={"removedRate": {"fail": 0.3}})
    _materialize(manager, "shop/api")
    manager.update_data_source(
        "shop",
        "api",
        config={
            "script": "return rows;",
            "variables": {"rows": ROWS[:5]},
            "quality": {"removedRate": {"fail": 0.3}},
        },
    )
    result = _materialize(manager, "shop/api")
    assert result.success
    assert _checks(result)["removed_rate_within_threshold"] == (False, "ERROR")
    assert manager.get_latest_data("shop", "api").version == 2


def test_a_failing_script_fails_the_step_with_its_message(
    manager: SeparatedDatabaseManager,
) -> None:
    add_source(manager, "api", ROWS, script="throw new Error('API is down')")
    result = _materialize(manager, "shop/api")
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "API is down" in failure.step_failure_data.error.message


def test_a_failed_materialization_records_the_source_status_and_error(
    manager: SeparatedDatabaseManager,
) -> None:
    add_source(manager, "api", ROWS)
    assert _materialize(manager, "shop/api").success
    manager.update_data_source("shop", "api", config={"script": "throw new Error('API is down')"})
    instance = dg.DagsterInstance.ephemeral()
    result = _materialize(manager, "shop/api", instance)
    assert not result.success
    (failure,) = [
        record.dagster_event
        for record in instance.all_logs(result.run_id)
        if record.dagster_event and record.dagster_event.event_type_value == "STEP_FAILURE"
    ]
    shown = failure.step_failure_data.user_failure_data
    metadata = {name: value.value for name, value in shown.metadata.items()}
    assert metadata["source_status"] == "failed"
    assert "API is down" in metadata["error"] and "API is down" in shown.description
    assert manager.get_data_source("shop", "api").status == "failed"
    assert manager.get_latest_data("shop", "api").data == ROWS


@pytest.mark.parametrize("blocking", [False, True])
def test_downstream_reads_only_published_upstream_data(
    manager: SeparatedDatabaseManager, blocking: bool
) -> None:
    quality = {"removedRate": {"fail": 0.3}, "blocking": ["removed_rate"] if blocking else []}
    add_source(manager, "up", ROWS, quality=quality)
    add_source(manager, "down", script="return inputs.up.map(r => ({ id: r.id }));")
    manager.add_relationship("shop/up", "shop/down")
    _materialize(manager, "shop/up")
    manager.update_data_source(
        "shop",
        "up",
        config={"script": "return rows;", "variables": {"rows": ROWS[:5]}, "quality": quality},
    )
    assert _materialize(manager, "shop/up").success is not blocking
    assert _materialize(manager, "shop/down").success
    statuses = [v.status for v in manager.list_versions("shop", "up")]
    assert statuses == ["published", "held" if blocking else "published"]
    expected = 10 if blocking else 5
    assert manager.get_latest_data("shop", "down").record_count == expected


def test_retention_job_prunes_by_each_source_config(manager: SeparatedDatabaseManager) -> None:
    add_source(manager, "kept", retention={"keepVersions": 2})
    add_source(manager, "unlimited")
    for round_ in range(4):
        for source_id in ("kept", "unlimited"):
            manager.import_data("shop", source_id, [{"id": 1, "round": round_}])
    defs = build_definitions(read_catalog(manager))
    result = defs.resolve_job_def("retention_job").execute_in_process(
        instance=dg.DagsterInstance.ephemeral()
    )
    assert result.success
    assert [v.version for v in manager.list_versions("shop", "kept")] == [3, 4]
    assert [v.version for v in manager.list_versions("shop", "unlimited")] == [1, 2, 3, 4]
