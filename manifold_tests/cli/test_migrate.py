"""The legacy single-file layout migrates snapshot by snapshot: killed half way it resumes
without importing anything twice, every version is verified, and only then may the old
table be dropped."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from manifold_pipelines import SeparatedDatabaseManager
from manifold_tests.cli.conftest import Invoke

SOURCES, SNAPSHOTS = 3, 20


def make_legacy(path: Path) -> dict[str, list[list[dict]]]:
    """3 sources x 20 snapshots, each snapshot a drift of the one before."""
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE projects (id TEXT PRIMARY KEY, name TEXT, description TEXT);"
        "CREATE TABLE data_sources (id TEXT PRIMARY KEY, project_id TEXT, name TEXT, type TEXT,"
        " config TEXT);"
        "CREATE TABLE snapshots (id INTEGER PRIMARY KEY, data_source_id TEXT, data TEXT,"
        " schema TEXT, metadata TEXT, created_at TEXT);"
    )
    conn.execute("INSERT INTO projects VALUES ('legacy', 'Legacy', 'from the old layout')")
    expected: dict[str, list[list[dict]]] = {}
    for s in range(SOURCES):
        source_id = f"feed-{s}"
        conn.execute(
            "INSERT INTO data_sources VALUES (?, 'legacy', ?, 'javascript', ?)",
            (source_id, f"Feed {s}", json.dumps({"script": "return [];", "oldKey": 1})),
        )
        expected[source_id] = []
        for n in range(SNAPSHOTS):
            rows = [
                {"id": i, "value": (i * 7 + n * (s + 1)) % 13, "pad": "x" * 300}
                for i in range(n % 5, 400 + n)
            ]
            expected[source_id].append(rows)
            conn.execute(
                "INSERT INTO snapshots (data_source_id, data, schema, metadata, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (
                    source_id,
                    json.dumps(rows),
                    json.dumps({"fields": ["id", "value", "pad"]}),
                    json.dumps({"run": n}),
                    f"2025-01-{n + 1:02d}T08:00:00+00:00",
                ),
            )
    conn.commit()
    conn.close()
    return expected


@pytest.mark.slow
def test_migration_killed_half_way_resumes_and_verifies(
    cli: Invoke, home: Path, tmp_path: Path
) -> None:
    legacy = tmp_path / "legacy.db"
    expected = make_legacy(legacy)
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "manifold_pipelines.cli",
            "--home",
            str(home),
            "migrate",
            str(legacy),
        ],
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert child.stderr is not None
    for _ in range(SOURCES * SNAPSHOTS // 2):  # about half way
        assert child.stderr.readline()
    os.killpg(child.pid, signal.SIGKILL)
    child.wait()
    with SeparatedDatabaseManager(home) as manager:
        done_before = sum(len(manager.list_versions("legacy", f"feed-{s}")) for s in range(SOURCES))
    assert SOURCES * SNAPSHOTS // 2 <= done_before < SOURCES * SNAPSHOTS

    _json_tail(cli("migrate", str(legacy), "--json").output)  # finishes the migration
    resumed = _json_tail(cli("migrate", str(legacy), "--json").output)
    assert resumed["verified"] and all(s["imported"] == 0 for s in resumed["sources"])
    with SeparatedDatabaseManager(home) as manager:
        for source_id, snapshots in expected.items():
            versions = manager.list_versions("legacy", source_id)
            assert len(versions) == SNAPSHOTS
            for number, rows in enumerate(snapshots, start=1):
                version = manager.get_data_version("legacy", source_id, number)
                assert sorted(version.data, key=lambda r: r["id"]) == rows
                assert version.metadata["run"] == number - 1
                assert version.schema == {"fields": ["id", "value", "pad"]}
                assert version.created_at.isoformat() == f"2025-01-{number:02d}T08:00:00+00:00"
        assert manager.get_project("legacy").description == "from the old layout"
    dropped = _json_tail(cli("migrate", str(legacy), "--drop-legacy", "--json").output)
    assert dropped["dropped_legacy"]
    with sqlite3.connect(legacy) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_schema")}
    assert "snapshots" not in tables and "projects" in tables


def _json_tail(output: str) -> dict:
    return json.loads(output[output.index("{") :])


def test_a_file_that_is_not_legacy_is_refused(cli: Invoke, tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE x (y)").connection.close()
    result = cli("migrate", str(other), code=1)
    assert (
        "is not a legacy Manifold database: it has no table data_sources, projects, snapshots"
        in result.output
    )


def _legacy_with_configs(path: Path) -> None:
    """One legacy source per way a config can be changed on its way in, and one clean."""
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE projects (id, name); CREATE TABLE data_sources (id, project_id, name,"
        " type, config); CREATE TABLE snapshots (id INTEGER PRIMARY KEY, data_source_id, data,"
        " schema, metadata, created_at);"
    )
    conn.execute("INSERT INTO projects VALUES ('old', 'Old')")
    conn.executemany(
        "INSERT INTO data_sources VALUES (?, 'old', ?, ?, ?)",
        [
            ("broken", "Broken", "javascript", '{"script": "return [1]"'),
            ("extra", "Extra", "javascript", '{"script": "return []", "oldKey": 1, "retries": 3}'),
            ("python", "Python", "python", '{"script": "return []"}'),
            ("listed", "Listed", "javascript", "[1, 2]"),
            ("clean", "Clean", "javascript", '{"script": "return []"}'),
        ],
    )
    conn.execute(
        "INSERT INTO snapshots (data_source_id, data, created_at) VALUES ('clean', '[]', 1)"
    )
    conn.commit()
    conn.close()


def test_every_change_to_a_legacy_config_is_reported(cli: Invoke, tmp_path: Path) -> None:
    legacy = tmp_path / "l.db"
    _legacy_with_configs(legacy)
    other_home = str(tmp_path / "other")
    report = _json_tail(cli("--home", other_home, "migrate", str(legacy), "--json").output)
    changes = {item["source"]: item["changes"] for item in report["sources"]}
    assert changes["old/clean"] == []
    (invalid, substituted) = changes["old/broken"]
    assert invalid.startswith("config is not valid JSON (unexpected end of data")
    assert invalid.endswith("); migrated with an empty config")
    assert substituted == (
        "no script: migrated with 'return [];', which imports nothing until you give it one"
    )
    assert changes["old/extra"] == ["config keys unknown today were left out: oldKey=1, retries=3"]
    assert changes["old/python"] == ["type 'python' is unknown today: migrated as javascript"]
    assert changes["old/listed"][0] == (
        "config is a list, not an object; migrated with an empty config"
    )

    text = cli("migrate", str(legacy)).output
    for source, notes in changes.items():
        assert all(f"{source}: changed: {note}" in text for note in notes)
    again = _json_tail(cli("migrate", str(legacy), "--json").output)
    assert {item["source"]: item["changes"] for item in again["sources"]} == changes
    audit = json.loads(cli("audit", "--source", "old/extra", "--json").output)
    (migrated,) = [entry for entry in audit if entry["action"] == "migrate"]
    assert migrated["details"]["changes"] == changes["old/extra"]


def test_the_migration_ledger_write_is_audited(cli: Invoke, tmp_path: Path, home: Path) -> None:
    legacy = tmp_path / "l.db"
    _legacy_with_configs(legacy)
    cli("migrate", str(legacy))
    with SeparatedDatabaseManager(home) as manager:
        ledger = [e for e in manager.audit_log() if e.object_id.startswith("legacyMigration:")]
    assert [(e.action, e.object_type, e.details) for e in ledger] == [
        ("set_setting", "settings", {"source": "old/clean", "snapshot": 1})
    ]


def test_changes_made_by_an_interrupted_run_are_reported_by_the_run_that_finishes_it(
    cli: Invoke, tmp_path: Path, home: Path
) -> None:
    """The first run creates 'extra' (leaving out its unknown keys), then stops at a config
    today's model refuses; once that is fixed, the run that finishes must still say what
    was left out of 'extra', though an earlier run created it."""
    legacy = tmp_path / "l.db"
    _legacy_with_configs(legacy)
    with sqlite3.connect(legacy) as conn:
        conn.execute(
            'UPDATE data_sources SET config = \'{"script": "x", "diffKey": 5}\''
            " WHERE id = 'python'"
        )
    stopped = cli("migrate", str(legacy), code=1)
    assert "Error: " in stopped.output and "diffKey" in stopped.output
    with SeparatedDatabaseManager(home) as manager:
        assert [s.id for s in manager.list_data_sources()] == ["broken", "extra"]
    with sqlite3.connect(legacy) as conn:
        conn.execute("UPDATE data_sources SET config = '{\"script\": \"x\"}' WHERE id = 'python'")
    report = _json_tail(cli("migrate", str(legacy), "--json").output)
    changes = {item["source"]: item["changes"] for item in report["sources"]}
    assert changes["old/extra"] == ["config keys unknown today were left out: oldKey=1, retries=3"]
    assert changes["old/broken"][0].startswith("config is not valid JSON")
    assert changes["old/python"] == ["type 'python' is unknown today: migrated as javascript"]
    assert changes["old/clean"] == []
    text = cli("migrate", str(legacy)).output
    assert "old/extra: changed: config keys unknown today were left out: oldKey=1" in text


def test_a_legacy_migration_needs_an_instance_admin(
    cli: Invoke, tmp_path: Path, home: Path
) -> None:
    """Its ledger is a global setting, which only an instance admin may write: admin of
    every project is not enough. The refusal changes nothing and is audited."""
    legacy = tmp_path / "l.db"
    _legacy_with_configs(legacy)
    with SeparatedDatabaseManager(home) as manager:
        manager.create_project(name="P", id="p")
        manager.create_user("ana")
        manager.set_role("ana", "p", "admin")
    refused = cli("--user", "ana", "migrate", str(legacy), code=1)
    assert refused.output.startswith(
        "Error: User 'ana' cannot run a legacy migration, which writes a global setting (its"
        " ledger): that needs an instance admin"
    )
    with SeparatedDatabaseManager(home) as manager:
        assert [p.id for p in manager.list_projects()] == ["p"]
        assert manager.get_settings() == {}
        denied = [e for e in manager.audit_log(actor="ana") if e.action == "denied"]
        assert [e.details["needs"] for e in denied] == ["instance admin"]
        manager.set_instance_role("ana", "admin")
    report = _json_tail(cli("--user", "ana", "migrate", str(legacy), "--json").output)
    assert report["verified"]
