"""Edges of backups, migration and the CLI's output found in review: each once lost or
misreported data, or crashed with a traceback."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from manifold_pipelines import SeparatedDatabaseManager
from manifold_pipelines.backup import create_backup, restore_backup
from manifold_pipelines.core.permissions import PermissionDeniedError
from manifold_pipelines.errors import ConfigError, StorageError
from manifold_tests.cli.conftest import Invoke
from manifold_tests.conftest import make_source


def _backup(manager: SeparatedDatabaseManager, destination: Path) -> Path:
    return Path(create_backup(manager, destination).folder)


@pytest.mark.sqlite_only  # backups copy a SQLite home; PostgreSQL refuses them (below)
def test_restoring_elsewhere_never_writes_to_the_original_data_path(
    manager: SeparatedDatabaseManager, home: Path, tmp_path: Path
) -> None:
    manager.create_project(name="Ext", id="ext", data_path=home / "external")
    manager.create_data_source(
        "ext", name="s", type="javascript", id="s", config={"script": "return []"}
    )
    manager.import_data("ext", "s", [{"id": 1, "v": "backed up"}])
    folder = _backup(manager, tmp_path / "bk")
    manager.import_data("ext", "s", [{"id": 1, "v": "live"}])
    restore_backup(folder, tmp_path / "restored")
    assert manager.get_latest_data("ext", "s").data == [{"id": 1, "v": "live"}]
    with SeparatedDatabaseManager(tmp_path / "restored") as restored:
        assert restored.get_latest_data("ext", "s").data == [{"id": 1, "v": "backed up"}]
        assert restored.data_file_path("ext", "s").is_relative_to((tmp_path / "restored").resolve())


@pytest.mark.sqlite_only  # backups copy a SQLite home; PostgreSQL refuses them (below)
def test_an_incomplete_backup_touches_nothing(
    manager: SeparatedDatabaseManager, home: Path, tmp_path: Path
) -> None:
    make_source(manager)
    manager.import_data("demo", "api", [{"id": 1}])
    first = _backup(manager, tmp_path / "bk")
    second = _backup(manager, tmp_path / "bk")  # points at the first for demo/api
    for path in first.rglob("*.db"):
        if "data-sources" in str(path):
            path.unlink()
    with pytest.raises(StorageError, match="is incomplete: missing"):
        restore_backup(second, home, force=True)
    assert manager.get_latest_data("demo", "api").data == [{"id": 1}]


@pytest.mark.sqlite_only  # backups copy a SQLite home; PostgreSQL refuses them (below)
def test_force_restore_removes_data_the_backup_does_not_know(
    manager: SeparatedDatabaseManager, home: Path, tmp_path: Path
) -> None:
    make_source(manager)
    make_source(manager, source_id="later")
    manager.import_data("demo", "api", [{"id": 1}])
    folder = _backup(manager, tmp_path / "bk")
    manager.import_data("demo", "later", [{"id": 2}])
    manager.close()
    restore_backup(folder, home, force=True)
    with SeparatedDatabaseManager(home) as restored:
        assert restored.list_versions("demo", "later") == []


@pytest.mark.sqlite_only  # backups copy a SQLite home; PostgreSQL refuses them (below)
def test_publishing_or_recreating_a_source_is_a_change_for_the_next_backup(
    manager: SeparatedDatabaseManager, tmp_path: Path
) -> None:
    make_source(manager, quality={"recordCount": {"fail": 1}, "blocking": ["record_count"]})
    manager.import_data("demo", "api", [{"id": 1}])
    manager.import_data("demo", "api", [])
    create_backup(manager, tmp_path / "bk")
    manager.publish_version("demo", "api", 2)
    assert create_backup(manager, tmp_path / "bk").copied == ["demo/api"]
    manager.delete_data_source("demo", "api")
    make_source(manager)
    manager.import_data("demo", "api", [{"id": 1, "v": "new"}])
    assert create_backup(manager, tmp_path / "bk").copied == ["demo/api"]


@pytest.mark.sqlite_only  # backups copy a SQLite home; PostgreSQL refuses them (below)
def test_backups_need_admin_on_every_project_and_restores_an_instance_admin(
    manager: SeparatedDatabaseManager, home: Path, tmp_path: Path, cli: Invoke
) -> None:
    make_source(manager)
    manager.create_user("vera")
    manager.set_role("vera", "demo", "viewer")
    with (
        SeparatedDatabaseManager(home, user="vera") as vera,
        pytest.raises(PermissionDeniedError, match="cannot back up its data: that needs the admin"),
    ):
        create_backup(vera, tmp_path / "bk")
    folder = _backup(manager, tmp_path / "bk")
    refused = cli("--user", "vera", "restore-backup", str(folder), "--force", code=1)
    assert "cannot replace this home from a backup: that needs an instance admin" in refused.output


@pytest.mark.postgresql_only
def test_backups_on_postgresql_are_refused_with_the_tools_that_do_it(
    manager: SeparatedDatabaseManager, tmp_path: Path, cli: Invoke
) -> None:
    """No copy of a database's tables is a backup a restore could trust: pg_dump is the
    database's, and `manifold transfer` copies everything into a folder."""
    make_source(manager)
    manager.import_data("demo", "api", [{"id": 1}])
    with pytest.raises(ConfigError, match=r"backup` works on the SQLite files.*pg_dump"):
        create_backup(manager, tmp_path / "bk")
    refused = cli("backup", str(tmp_path / "bk"), code=1).output
    assert "manifold transfer DEST_FOLDER" in refused
    assert not (tmp_path / "bk").exists()
    (tmp_path / "old-backup").mkdir()
    (tmp_path / "old-backup" / "manifest.json").write_text(
        '{"createdAt": "2026-01-01T00:00:00+00:00", "home": "/h", "core": "old-backup/core.db",'
        ' "sources": {}}'
    )
    restored = cli("restore-backup", str(tmp_path / "old-backup"), "--force", code=1).output
    assert "`manifold restore-backup` works on the SQLite files" in restored
    assert "pg_restore" in restored and "manifold transfer" in restored
    assert manager.get_latest_data("demo", "api").data == [{"id": 1}]


def _legacy(path: Path, snapshots: list[tuple], sources: list[tuple] | None = None) -> None:
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE projects (id, name); CREATE TABLE data_sources (id, project_id, name, type,"
        " config); CREATE TABLE snapshots (id INTEGER PRIMARY KEY, data_source_id, data, schema,"
        " metadata, created_at);"
    )
    conn.execute("INSERT INTO projects VALUES (7, 'Seven')")
    for source in sources or [(1, 7, "One", "javascript", "not json")]:
        conn.execute("INSERT INTO data_sources VALUES (?, ?, ?, ?, ?)", source)
    conn.executemany(
        "INSERT INTO snapshots (data_source_id, data, schema, metadata, created_at)"
        " VALUES (?, ?, ?, ?, ?)",
        snapshots,
    )
    conn.commit()
    conn.close()


def _json(output: str) -> dict:
    """The JSON report; progress lines (stderr) may come first."""
    return json.loads(output[output.index("{\n") :])


def test_migration_survives_retention_and_odd_legacy_values(cli: Invoke, tmp_path: Path) -> None:
    legacy = tmp_path / "l.db"
    _legacy(
        legacy,
        [
            (1, '[{"id": 1, "v": 1}]', None, "null", 1704067200),
            (1, '[{"id": 1, "v": 2}]', "[1]", "[1, 2]", "2024-01-02T00:00:00"),
            (1, '[{"id": 1, "v": 3}]', None, '{"run": 3}', "2024-01-03T00:00:00+00:00"),
        ],
    )
    first = _json(cli("migrate", str(legacy), "--json").output)
    assert first["verified"] and first["sources"][0]["imported"] == 3
    cli("cleanup", "7/1", "--keep-versions", "1")
    again = _json(cli("migrate", str(legacy), "--json").output)
    assert again["verified"] and again["sources"][0]["imported"] == 0
    versions = json.loads(cli("versions", "7/1", "--json").output)
    assert [v["version"] for v in versions] == [3]
    assert versions[0]["metadata"] == {"run": 3, "legacySnapshotId": 3}


def test_orphan_snapshots_block_dropping_the_table(cli: Invoke, tmp_path: Path) -> None:
    legacy = tmp_path / "l.db"
    _legacy(
        legacy,
        [(1, '[{"id": 1}]', None, None, None), (99, '[{"id": 2}]', None, None, None)],
        [(1, 7, "One", "javascript", '{"script": "return []"}')],
    )
    result = cli("migrate", str(legacy), "--drop-legacy", code=1)
    assert (
        "Verification failed (1 snapshot(s) of sources missing from data_sources)" in result.output
    )
    with sqlite3.connect(legacy) as conn:
        assert conn.execute("SELECT count(*) FROM snapshots").fetchone() == (2,)


def test_bad_legacy_rows_are_named(cli: Invoke, tmp_path: Path) -> None:
    legacy = tmp_path / "l.db"
    _legacy(legacy, [(1, "[{broken", None, None, None)])
    assert "Legacy snapshot 1 holds invalid JSON" in cli("migrate", str(legacy), code=1).output
    other = tmp_path / "m.db"
    _legacy(other, [(1, "[]", None, None, "Jan 2 2024")])
    refused = cli("migrate", str(other), code=1).output
    assert "Legacy snapshot 1: created_at 'Jan 2 2024' is not a time Manifold can keep" in refused
    assert "it takes ISO 8601 or a Unix time" in refused


def test_markup_in_data_is_shown_not_applied(demo_cli: Invoke, tmp_path: Path) -> None:
    rows = [{"id": 1, "note": "[red]secret[/red] price [/] tag"}]
    (tmp_path / "r.json").write_text(json.dumps(rows))
    demo_cli("import", "demo/api", str(tmp_path / "r.json"))
    assert "[red]secret[/red] price [/] tag" in demo_cli("show", "demo/api").output.replace(
        "\n", ""
    )
    (tmp_path / "r2.json").write_text(json.dumps([{"id": 1, "note": "[bold]x[/] y"}]))
    demo_cli("import", "demo/api", str(tmp_path / "r2.json"))
    assert "[bold]x[/] y" in demo_cli("diff", "demo/api", "1", "2").output


def test_column_report_needs_the_key_in_both_versions(demo_cli: Invoke, tmp_path: Path) -> None:
    (tmp_path / "e.json").write_text("[]")
    (tmp_path / "r.json").write_text('[{"id": 1}]')
    demo_cli("import", "demo/api", str(tmp_path / "e.json"))
    demo_cli("import", "demo/api", str(tmp_path / "r.json"))
    result = demo_cli("diff", "demo/api", "1", "2", "--format", "report", code=1)
    assert "version 1 has no column 'id'" in result.output


def test_csv_export_keeps_every_field_whatever_the_declared_schema(
    manager: SeparatedDatabaseManager, cli: Invoke
) -> None:
    make_source(manager)
    manager.import_data("demo", "api", [{"id": 1, "v": "x"}], schema={"fields": ["id"]})
    assert cli("show", "demo/api", "--format", "csv").output.splitlines() == ["id,v", "1,x"]


def test_audit_filter_matches_the_source_exactly(manager: SeparatedDatabaseManager) -> None:
    """A project's id matches the project and its sources; nothing else matches by prefix,
    by LIKE wildcard or by case."""
    make_source(manager)
    make_source(manager, "demo2", "api")
    assert [(e.object_type, e.object_id) for e in manager.audit_log(object_id="demo")] == [
        ("data_source", "demo/api"),
        ("project", "demo"),
    ]
    assert [e.object_id for e in manager.audit_log(object_id="demo/api")] == ["demo/api"]
    for near in ("d_mo", "DEMO", "dem", "demo/ap", "demo/%"):
        assert manager.audit_log(object_id=near) == [], near


def test_an_archive_is_restored_only_into_its_own_source(
    manager: SeparatedDatabaseManager,
) -> None:
    make_source(manager)
    make_source(manager, source_id="other")
    for round_ in range(3):
        manager.import_data("demo", "api", [{"id": 1, "r": round_}])
    manager.import_data("demo", "other", [{"id": 9}])
    path, _ = manager.archive_versions("demo", "api", 3)
    with pytest.raises(
        ConfigError, match="archives Data source 'demo/api', not Data source 'demo/other'"
    ):
        manager.restore_archived("demo", "other", path, 1)
    assert [v.version for v in manager.list_versions("demo", "other")] == [1]
    assert manager.get_latest_data("demo", "other").data == [{"id": 9}]
