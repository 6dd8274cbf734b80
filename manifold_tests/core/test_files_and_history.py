"""Stores carry their format and kind (a SQLite file in its header, a PostgreSQL schema in
its manifold_format table), a damaged source fails alone with a clear message, and the
catalogue mirrors import history so nobody has to open every source's store."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from manifold_pipelines import SeparatedDatabaseManager
from manifold_pipelines.backends import sqlite as sqlite_backend
from manifold_pipelines.core.postgres_tables import CATALOGUE_FORMAT
from manifold_pipelines.core.tables import CORE_FORMAT
from manifold_pipelines.db.migrations import FileFormat
from manifold_pipelines.errors import StorageError
from manifold_pipelines.versions.postgres_tables import SOURCE_FORMAT
from manifold_pipelines.versions.tables import DATA_FORMAT
from manifold_tests.conftest import make_source
from manifold_tests.raw_storage import (
    INTEGRITY_ERRORS,
    catalogue_format,
    catalogue_sql,
    damage_source,
    make_empty_catalogue,
    make_foreign_catalogue,
    set_catalogue_version,
    source_format,
    source_tables,
)

FORMATS: dict[str, tuple[FileFormat, FileFormat]] = {
    "sqlite": (CORE_FORMAT, DATA_FORMAT),
    "postgresql": (CATALOGUE_FORMAT, SOURCE_FORMAT),
}
"""Per engine, the format of the catalogue and of a source's store."""


def _header(path: Path) -> tuple[int, int]:
    with sqlite3.connect(path) as conn:
        return (
            conn.execute("PRAGMA application_id").fetchone()[0],
            conn.execute("PRAGMA user_version").fetchone()[0],
        )


def test_stores_record_their_kind_and_format(
    manager: SeparatedDatabaseManager, source: tuple, home: Path, engine: str
) -> None:
    manager.import_data(*source, [{"id": 1}])
    catalogue, data = FORMATS[engine]
    assert catalogue_format(home) == (catalogue.application_id, catalogue.latest)
    assert source_format(home, *source) == (data.application_id, data.latest)
    tables = {"data_versions", "record_rows", "record_ends", "schema_versions", "import_logs"}
    assert tables | {"quality_metrics"} <= source_tables(home, *source)


# Where a data file lies, its journal and its vacuum mode are SQLite's own.
@pytest.mark.sqlite_only
def test_data_files_lie_in_the_home_in_wal_mode_with_incremental_vacuum(
    manager: SeparatedDatabaseManager, source: tuple, home: Path
) -> None:
    manager.import_data(*source, [{"id": 1}])
    data = manager.data_file_path(*source)
    assert data == home.resolve() / "data-sources" / "demo" / "api.db"
    with sqlite3.connect(data) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("PRAGMA auto_vacuum").fetchone() == (2,)
        assert conn.execute("PRAGMA page_size").fetchone() == (32768,)
    with sqlite3.connect(home / "core.db") as conn:
        assert conn.execute("PRAGMA page_size").fetchone() == (8192,)


@pytest.mark.sqlite_only
def test_a_data_file_keeps_the_page_size_it_was_made_with(
    manager: SeparatedDatabaseManager, source: tuple, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files made before data files had 32 KiB pages have 8 KiB ones, and go on with them."""
    monkeypatch.setattr(sqlite_backend, "DATA_PAGE_SIZE", 8192)
    first = [{"id": i, "text": "x" * i} for i in range(3000)]
    manager.import_data(*source, first)
    monkeypatch.undo()
    second = [*first[10:], {"id": -1}]
    manager.import_data(*source, second)
    with sqlite3.connect(manager.data_file_path(*source)) as conn:
        assert conn.execute("PRAGMA page_size").fetchone() == (8192,)
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert manager.get_latest_data(*source).data == second
    assert manager.get_data_version(*source, 1).data == first


def test_a_newer_catalogue_is_refused_not_misread(home: Path) -> None:
    SeparatedDatabaseManager(home).close()
    set_catalogue_version(home, 99)
    with pytest.raises(StorageError, match=r"format version 99, newer than this Manifold"):
        SeparatedDatabaseManager(home)


def test_a_catalogue_of_another_application_is_refused(home: Path) -> None:
    make_foreign_catalogue(home)
    with pytest.raises(StorageError, match=r"is not a Manifold (core\.db|catalogue schema)"):
        SeparatedDatabaseManager(home)


def test_a_damaged_source_fails_alone(
    manager: SeparatedDatabaseManager, source: tuple, home: Path
) -> None:
    make_source(manager, source_id="healthy")
    manager.import_data(*source, [{"id": 1}])
    manager.import_data("demo", "healthy", [{"id": 1}])
    damage_source(home, *source)
    with pytest.raises(StorageError, match=r"of Data source 'demo/api'.*move it aside"):
        manager.import_data(*source, [{"id": 2}])
    with pytest.raises(StorageError, match=r"of Data source 'demo/api'.*move it aside"):
        manager.get_latest_data(*source)
    assert manager.import_data("demo", "healthy", [{"id": 2}]).version == 2


def test_an_empty_catalogue_is_upgraded_in_place(home: Path, engine: str) -> None:
    """An empty core.db (made by an older tool) or an empty schema `manifold` (made by a
    database administrator) is migrated, not recreated."""
    make_empty_catalogue(home)
    with SeparatedDatabaseManager(home) as manager:
        manager.create_project(name="Demo", id="demo")
    assert catalogue_format(home)[1] == FORMATS[engine][0].latest


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
    # A crash between the source's commit and the catalogue's loses the mirror row...
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


# Golden core.db files of older formats: the migrations of SQLite files.
@pytest.mark.sqlite_only
def test_a_format_1_core_db_is_upgraded_and_keeps_everything(home: Path) -> None:
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


@pytest.mark.sqlite_only
def test_a_format_2_core_db_gains_instance_admins_and_audit_projects(home: Path) -> None:
    """Format 3 keeps each audit entry's project so that reading the log can be limited to
    the projects a user administers: entries written before it are backfilled."""
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


def test_a_source_status_outside_its_four_values_is_refused_by_the_catalogue(
    manager: SeparatedDatabaseManager, source: tuple, home: Path
) -> None:
    """The catalogue itself keeps `data_sources.status` to idle, running, failed or disabled,
    so a writer that sets another value (core.db's old column default was 'active', and it is
    still the default there) fails loudly."""
    with catalogue_sql(home) as conn:
        with pytest.raises(INTEGRITY_ERRORS, match="must be idle, running, failed"):
            conn.execute("UPDATE data_sources SET status = 'active'")
        with pytest.raises(INTEGRITY_ERRORS, match="must be idle, running, failed"):
            conn.execute(
                "INSERT INTO data_sources (id, project_id, name, type, config, created_at,"
                " updated_at, status) VALUES ('x', 'demo', 'x', 'javascript', '{}', 'now', 'now',"
                " 'active')"
            )
    assert manager.get_data_source(*source).status == "idle"
