"""Files carry their format and kind, a damaged file fails alone with a clear message, and
core.db mirrors import history so nobody has to open every data file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from manifold_pipelines import SeparatedDatabaseManager
from manifold_pipelines.core.tables import CORE_FORMAT
from manifold_pipelines.errors import StorageError
from manifold_pipelines.versions.tables import DATA_FORMAT
from manifold_tests.conftest import make_source


def _header(path: Path) -> tuple[int, int]:
    with sqlite3.connect(path) as conn:
        return (
            conn.execute("PRAGMA application_id").fetchone()[0],
            conn.execute("PRAGMA user_version").fetchone()[0],
        )


def test_files_record_their_kind_format_and_journal(
    manager: SeparatedDatabaseManager, source: tuple, home: Path
) -> None:
    manager.import_data(*source, [{"id": 1}])
    data = manager.data_file_path(*source)
    assert data == home.resolve() / "data-sources" / "demo" / "api.db"
    assert _header(home / "core.db") == (CORE_FORMAT.application_id, CORE_FORMAT.latest)
    assert _header(data) == (DATA_FORMAT.application_id, DATA_FORMAT.latest)
    with sqlite3.connect(data) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("PRAGMA auto_vacuum").fetchone() == (2,)
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_schema")}
    assert {"data_versions", "schema_versions", "import_logs", "quality_metrics"} <= tables


def test_a_newer_core_db_is_refused_not_misread(home: Path) -> None:
    SeparatedDatabaseManager(home).close()
    with sqlite3.connect(home / "core.db") as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(StorageError, match=r"format version 99, newer than this Manifold"):
        SeparatedDatabaseManager(home)


def test_a_foreign_sqlite_file_is_refused_as_core_db(home: Path) -> None:
    home.mkdir()
    with sqlite3.connect(home / "core.db") as conn:
        conn.execute("CREATE TABLE mine (x)")
    with pytest.raises(StorageError, match=r"is not a Manifold core\.db"):
        SeparatedDatabaseManager(home)


def test_a_corrupt_data_file_fails_alone(manager: SeparatedDatabaseManager, source: tuple) -> None:
    make_source(manager, source_id="healthy")
    manager.import_data(*source, [{"id": 1}])
    manager.import_data("demo", "healthy", [{"id": 1}])
    path = manager.data_file_path(*source)
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    path.write_bytes(b"this is not a database" * 500)
    with pytest.raises(StorageError, match=r"data file of Data source 'demo/api'.*move it aside"):
        manager.import_data(*source, [{"id": 2}])
    with pytest.raises(StorageError, match=r"data file of Data source 'demo/api'"):
        manager.get_latest_data(*source)
    assert manager.import_data("demo", "healthy", [{"id": 2}]).version == 2


def test_old_core_db_is_upgraded_in_place(home: Path) -> None:
    """A core.db of format 0 (created empty by an older tool) is migrated, not recreated."""
    home.mkdir()
    sqlite3.connect(home / "core.db").close()
    with SeparatedDatabaseManager(home) as manager:
        manager.create_project(name="Demo", id="demo")
    assert _header(home / "core.db")[1] == CORE_FORMAT.latest


def test_import_history_is_mirrored_and_healed_after_a_crash(
    manager: SeparatedDatabaseManager, source: tuple
) -> None:
    manager.import_data(*source, [{"id": 1}])
    manager.import_data(*source, [{"id": 1}, {"id": 2}])
    history = manager.import_history("demo", "api")
    assert [(h.version, h.status, h.records_processed) for h in history] == [
        (2, "completed", 2),
        (1, "completed", 1),
    ]
    assert (history[0].version_status, history[0].quality_status) == ("published", "warning")
    assert manager.get_data_source(*source).last_sync_at is not None
    # A crash between the data file's commit and core.db's loses the mirror row...
    manager.core.conn.execute("DELETE FROM import_history WHERE version = 2")
    manager.import_data(*source, [{"id": 3}])
    # ...and the next import of the source puts it back.
    assert [h.version for h in manager.import_history("demo", "api")] == [3, 2, 1]


def test_reads_and_changes_are_audited(manager: SeparatedDatabaseManager, source: tuple) -> None:
    manager.import_data(*source, [{"id": 1}])
    manager.get_latest_data(*source)
    manager.get_data_diff(*source, 1, 1)
    actions = [(e.action, e.details) for e in manager.audit_log(object_id="demo/api")]
    assert actions[:3] == [
        ("read", {"diff": {"versions": [1, 1]}}),
        ("read", {"latest": {}}),
        ("import", {"version": 1, "records": 1, "status": "published"}),
    ]
    assert ("create", None) in actions
    assert manager.audit_log(object_id="demo")[-1].object_type == "project"


def test_a_format_1_core_db_is_upgraded_and_keeps_everything(home: Path) -> None:
    home.mkdir()
    golden = Path(__file__).parents[1] / "cases" / "core_db" / "format-1.db"
    (home / "core.db").write_bytes(golden.read_bytes())
    assert _header(home / "core.db") == (CORE_FORMAT.application_id, 1)
    with SeparatedDatabaseManager(home) as manager:
        source = manager.get_data_source("old", "legacy")
        assert (source.sync_interval, source.config.script) == (90, "return [{id: 1}]")
        (entry,) = manager.import_history("old", "legacy")
        assert (entry.version, entry.quality_status, entry.version_status) == (1, None, None)
        manager.set_setting("alerts", {"webhookUrl": "http://127.0.0.1:9/hook"})
        assert manager.get_settings() == {"alerts": {"webhookUrl": "http://127.0.0.1:9/hook"}}
    assert _header(home / "core.db") == (CORE_FORMAT.application_id, CORE_FORMAT.latest)


def test_a_format_2_core_db_gains_instance_admins_and_audit_projects(home: Path) -> None:
    """Format 3 keeps each audit entry's project so that reading the log can be limited to
    the projects a user administers: entries written before it are backfilled."""
    home.mkdir()
    golden = Path(__file__).parents[1] / "cases" / "core_db" / "format-2.db"
    (home / "core.db").write_bytes(golden.read_bytes())
    assert _header(home / "core.db") == (CORE_FORMAT.application_id, 2)
    with SeparatedDatabaseManager(home) as manager:
        by_type = {(e.object_type, e.object_id): e.project_id for e in manager.audit_log()}
        assert by_type == {
            ("project", "shop"): "shop",
            ("data_source", "shop/orders"): "shop",
            ("user", "ana"): None,
            ("settings", "alerts"): None,
        }
        (ana,) = manager.list_users()
        assert (ana.id, ana.instance_role) == ("ana", None)
        assert manager.get_role("ana", "shop") == "editor"
        assert [e.version for e in manager.import_history("shop", "orders")] == [1]
        # Format 4: the 'active' every older format wrote becomes what the source is doing.
        assert manager.get_data_source("shop", "orders").status == "idle"
    assert _header(home / "core.db") == (CORE_FORMAT.application_id, CORE_FORMAT.latest)


def test_a_source_status_outside_its_four_values_is_refused_by_the_file(
    manager: SeparatedDatabaseManager, source: tuple, home: Path
) -> None:
    """core.db itself keeps `data_sources.status` to idle, running, failed or disabled, so a
    writer that forgets it (the old column default was 'active') fails loudly."""
    with sqlite3.connect(home / "core.db") as conn:
        with pytest.raises(sqlite3.IntegrityError, match="must be idle, running, failed"):
            conn.execute("UPDATE data_sources SET status = 'active'")
        with pytest.raises(sqlite3.IntegrityError, match="must be idle, running, failed"):
            conn.execute(
                "INSERT INTO data_sources (id, project_id, name, type, config, created_at,"
                " updated_at) VALUES ('x', 'demo', 'x', 'javascript', '{}', 'now', 'now')"
            )
    assert manager.get_data_source(*source).status == "idle"
