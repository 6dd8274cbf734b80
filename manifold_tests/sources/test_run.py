"""run_data_source is the import a schedule makes: run, validate, version, log. A dry run
shows what an edited script would change without writing anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from manifold_pipelines import SeparatedDatabaseManager
from manifold_pipelines.errors import ConfigError, DiffKeyError
from manifold_pipelines.sources.base import SourceRunError
from manifold_pipelines.versions.models import DryRunResult, ImportResult
from manifold_tests.conftest import make_source
from manifold_tests.raw_storage import stored_state

SCRIPT = "console.log('rows', rows.length); return rows;"


def _rows(*ids: int, name: str = "x") -> list[dict]:
    return [{"id": i, "name": name} for i in ids]


def test_a_run_is_logged_from_start_to_finish(manager: SeparatedDatabaseManager) -> None:
    make_source(manager, script=SCRIPT, variables={"rows": _rows(1, 2)})
    result = manager.run_data_source("demo", "api")
    assert isinstance(result, ImportResult) and result.version == 1
    log = manager.get_import_logs("demo", "api")[0]
    assert (log.status, log.version, log.records_processed) == ("completed", 1, 2)
    assert log.duration_ms is not None and log.finished_at is not None
    assert "[info] rows 2" in (log.log or "")
    history = manager.import_history("demo", "api")[0]
    assert (history.status, history.version) == ("completed", 1)
    assert manager.get_data_source("demo", "api").last_sync_at is not None


def test_dry_run_shows_the_diff_and_writes_nothing(
    manager: SeparatedDatabaseManager, home: Path
) -> None:
    make_source(manager, script=SCRIPT, variables={"rows": _rows(1, 2)})
    manager.run_data_source("demo", "api")
    before = (stored_state(home, "demo", "api"), manager.list_versions("demo", "api"))
    draft = {"script": SCRIPT, "variables": {"rows": _rows(2, 3, name="y")}}
    preview = manager.preview_data_source("demo", "api", config=draft)
    assert isinstance(preview, DryRunResult)
    assert preview.records == _rows(2, 3, name="y")
    assert preview.diff is not None
    assert (preview.diff.added, preview.diff.removed, preview.diff.modified) == (1, 1, 1)
    assert preview.preview.version == 2 and "[info] rows 2" in (preview.log or "")
    assert (stored_state(home, "demo", "api"), manager.list_versions("demo", "api")) == before
    assert len(manager.get_import_logs("demo", "api")) == 1
    assert manager.get_data_source("demo", "api").config.variables == {"rows": _rows(1, 2)}
    again = manager.preview_data_source("demo", "api")
    assert isinstance(again, DryRunResult) and again.diff is not None
    assert again.diff.total_changes == 0


def test_dry_run_of_a_broken_draft_fails_without_a_trace(manager: SeparatedDatabaseManager) -> None:
    make_source(manager, script=SCRIPT, variables={"rows": _rows(1)})
    with pytest.raises(ConfigError, match="unknown key 'scirpt'"):
        manager.preview_data_source("demo", "api", config={"scirpt": "x"})
    with pytest.raises(SourceRunError, match="threw Error: draft"):
        manager.preview_data_source("demo", "api", config={"script": "throw new Error('draft')"})
    assert manager.get_import_logs("demo", "api") == []


def test_downstream_script_reads_its_upstreams(manager: SeparatedDatabaseManager) -> None:
    make_source(
        manager,
        source_id="customers",
        script="return rows",
        variables={"rows": [{"id": 1, "name": "Ana"}, {"id": 2, "name": "Bo"}]},
    )
    orders = [{"id": 10, "customer": 1, "total": 5}, {"id": 11, "customer": 2, "total": 7}]
    make_source(manager, source_id="orders", script="return rows", variables={"rows": orders})
    join = """
    const names = Object.fromEntries(inputs.customers.map(c => [c.id, c.name]));
    return inputs.orders.map(o => ({ id: o.id, customer: names[o.customer], total: o.total }));
    """
    make_source(manager, source_id="report", script=join)
    manager.add_relationship("demo/customers", "demo/report")
    manager.add_relationship("demo/orders", "demo/report")
    manager.run_data_source("demo", "customers")
    manager.run_data_source("demo", "orders")
    manager.run_data_source("demo", "report")
    assert manager.get_latest_data("demo", "report").data == [
        {"id": 10, "customer": "Ana", "total": 5},
        {"id": 11, "customer": "Bo", "total": 7},
    ]


def test_a_failed_run_keeps_the_last_version_and_logs_console_output(
    manager: SeparatedDatabaseManager,
) -> None:
    make_source(manager, script=SCRIPT, variables={"rows": _rows(1)})
    manager.run_data_source("demo", "api")
    manager.update_data_source(
        "demo",
        "api",
        config={"script": "console.warn('about to fail'); return [{ id: 1 }, { id: 1 }]"},
    )
    with pytest.raises(DiffKeyError, match="1 record has a 'id' that another record also has"):
        manager.run_data_source("demo", "api")
    log = manager.get_import_logs("demo", "api")[0]
    assert log.status == "failed" and "[warn] about to fail" in (log.log or "")
    assert manager.get_latest_data("demo", "api").data == _rows(1)


def test_a_run_can_use_a_pinned_config_without_saving_it(
    manager: SeparatedDatabaseManager,
) -> None:
    make_source(manager, script=SCRIPT, variables={"rows": _rows(1)})
    pinned = {"script": SCRIPT, "variables": {"rows": _rows(1, 2)}}
    result = manager.run_data_source("demo", "api", config=pinned)
    assert isinstance(result, ImportResult) and result.record_count == 2
    assert manager.get_data_source("demo", "api").config.variables == {"rows": _rows(1)}


def test_a_run_refused_before_it_starts_is_logged_as_a_failed_import(
    manager: SeparatedDatabaseManager,
) -> None:
    """A draft config that does not validate never ran, but the attempt is what status,
    history and the consecutive-failure alert must see."""
    make_source(manager, script="return [{id: 1}]")
    manager.run_data_source("demo", "api")
    with pytest.raises(ConfigError, match="unknown key 'scirpt'"):
        manager.run_data_source("demo", "api", config={"scirpt": "x"})
    (log, _) = manager.get_import_logs("demo", "api")
    assert (log.status, log.version) == ("failed", None)
    assert log.error is not None and "unknown key 'scirpt'" in log.error
    assert [e.status for e in manager.import_history("demo", "api")] == ["failed", "completed"]
    assert manager.get_data_source("demo", "api").status == "failed"
    assert manager.get_latest_data("demo", "api").version == 1
