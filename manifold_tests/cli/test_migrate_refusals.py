"""A legacy database is whatever an older layout (or a hand edit) left behind: a source id in
two projects when `data_sources` had no primary key, a `created_at` no calendar holds. A
migration must never guess: a snapshot imported into the wrong project leaks one project's
data into another and still reports itself verified. What cannot be placed or dated is
refused with the row named, before anything is imported."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from manifold_pipelines import SeparatedDatabaseManager
from manifold_tests.cli.conftest import run_manifold

SCRIPT = json.dumps({"script": "return [];"})


def _legacy(path: Path, *, snapshot_project: bool = False) -> sqlite3.Connection:
    """The layout without keys the red team found: no primary key on `data_sources`, so the
    same source id may sit in two projects."""
    conn = sqlite3.connect(path)
    owner = ", project_id" if snapshot_project else ""
    conn.executescript(
        "CREATE TABLE projects (id, name);"
        "CREATE TABLE data_sources (id, project_id, name, type, config);"
        f"CREATE TABLE snapshots (id, data_source_id{owner}, data, schema, metadata, created_at);"
    )
    conn.execute("INSERT INTO projects VALUES ('P1', 'P1'), ('P2', 'P2')")
    return conn


def _add_source(conn: sqlite3.Connection, project: str, source: str = "x") -> None:
    conn.execute(
        "INSERT INTO data_sources VALUES (?, ?, ?, 'javascript', ?)",
        (source, project, source, SCRIPT),
    )


def _migrate(home: Path, legacy: Path, code: int) -> str:
    """The report (JSON) when it succeeds, the error when it is refused."""
    done = run_manifold(home, "migrate", str(legacy), "--json")
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr
    return done.stderr if code else done.stdout


def test_a_source_id_shared_by_two_projects_is_refused_before_anything_is_imported(
    home: Path, tmp_path: Path
) -> None:
    legacy = tmp_path / "dup.db"
    conn = _legacy(legacy)
    _add_source(conn, "P1")
    _add_source(conn, "P2")
    conn.execute(
        "INSERT INTO snapshots VALUES (1, 'x', ?, NULL, NULL, '2020-01-01')",
        (json.dumps([{"id": 1, "secret": "P1-only"}]),),
    )
    conn.commit()
    conn.close()
    output = _migrate(home, legacy, code=1)
    assert output.startswith(
        "Error: Legacy source id 'x' belongs to projects P1 and P2, and the legacy snapshots"
        " table has no project_id column: its 1 snapshot(s) cannot be told apart."
    )
    assert "Nothing was imported" in output
    with SeparatedDatabaseManager(home) as manager:
        assert manager.list_projects() == []
        assert manager.get_settings() == {}


def test_a_shared_source_id_without_snapshots_migrates_into_each_project(
    home: Path, tmp_path: Path
) -> None:
    """Nothing of it has to be placed, so nothing is ambiguous."""
    legacy = tmp_path / "shared.db"
    conn = _legacy(legacy)
    _add_source(conn, "P1")
    _add_source(conn, "P2")
    conn.commit()
    conn.close()
    report = json.loads(_migrate(home, legacy, code=0))
    assert report["verified"]
    assert [s["source"] for s in report["sources"]] == ["P1/x", "P2/x"]


def test_a_source_listed_twice_in_one_project_is_refused(home: Path, tmp_path: Path) -> None:
    legacy = tmp_path / "twice.db"
    conn = _legacy(legacy)
    _add_source(conn, "P1", "y")
    _add_source(conn, "P1")
    _add_source(conn, "P1")
    conn.commit()
    conn.close()
    output = _migrate(home, legacy, code=1)
    assert output.startswith("Error: Legacy data_sources lists source 'x' of project 'P1' 2 times")
    with SeparatedDatabaseManager(home) as manager:
        assert manager.list_projects() == []


def test_snapshots_that_name_their_project_go_to_that_project(home: Path, tmp_path: Path) -> None:
    legacy = tmp_path / "owned.db"
    conn = _legacy(legacy, snapshot_project=True)
    _add_source(conn, "P1")
    _add_source(conn, "P2")
    for number, project in enumerate(["P1", "P2", "P2"], start=1):
        conn.execute(
            "INSERT INTO snapshots VALUES (?, 'x', ?, ?, NULL, NULL, ?)",
            (number, project, json.dumps([{"id": number, "of": project}]), number),
        )
    conn.commit()
    conn.close()
    report = json.loads(_migrate(home, legacy, code=0))
    assert report["verified"] and report["orphan_snapshots"] == 0
    assert [(s["source"], s["snapshots"]) for s in report["sources"]] == [("P1/x", 1), ("P2/x", 2)]
    with SeparatedDatabaseManager(home) as manager:
        assert manager.get_latest_data("P1", "x").data == [{"id": 1, "of": "P1"}]
        assert [v.version for v in manager.list_versions("P2", "x")] == [1, 2]
        assert manager.get_latest_data("P2", "x").data == [{"id": 3, "of": "P2"}]


@pytest.mark.parametrize(
    ("created_at", "shown"),
    [(1e20, "1e+20"), (float("inf"), "inf"), (-1e12, "-1000000000000.0")],
    ids=["far-future", "infinite", "before-year-1"],
)
def test_a_snapshot_time_no_calendar_holds_is_refused_before_its_source_imports(
    home: Path, tmp_path: Path, created_at: float, shown: str
) -> None:
    legacy = tmp_path / "time.db"
    conn = _legacy(legacy)
    _add_source(conn, "P1")
    conn.executemany(
        "INSERT INTO snapshots VALUES (?, 'x', ?, NULL, NULL, ?)",
        [(1, json.dumps([{"id": 1}]), 1000), (2, json.dumps([{"id": 2}]), created_at)],
    )
    conn.commit()
    conn.close()
    output = _migrate(home, legacy, code=1)
    assert output.startswith(
        f"Error: Legacy snapshot 2: created_at {shown} is not a time Manifold can keep"
    )
    with SeparatedDatabaseManager(home) as manager:
        assert manager.list_versions("P1", "x") == []
        assert manager.get_settings() == {}
