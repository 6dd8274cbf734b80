"""A data file written by an older Manifold must open, read and diff as a new one would: it
is upgraded in place, and never misread. cases/data_file/format-1.db was written by format 1
(keys 1.0 and 1 apart, keyless keys by field order, order by first import):

    v1 [{"id": 1.0, "v": "a"}, {"id": 2, "v": "b"}, {"id": 3, "v": "c"}]   keyed by id
    v2 [{"id": 1, "v": "a"}, {"id": 3, "v": "c"}]
    v3 [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}, {"id": 3, "v": "c"}]
    v4 [{"a": 1, "b": {"x": 1, "y": 2}}, the same again, {"c": 3}]          keyless
    v5 [{"b": {"y": 2, "x": 1}, "a": 1}, {"c": 3}, {"a": 1, "b": {"x": 1, "y": 2}}]
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from manifold_pipelines import SeparatedDatabaseManager
from manifold_pipelines.versions.tables import DATA_FORMAT
from manifold_tests.conftest import make_source

# Golden data files of older formats, upgraded in place: migrations of SQLite files (a
# PostgreSQL source schema starts at the latest format).
pytestmark = pytest.mark.sqlite_only

GOLDEN = Path(__file__).parents[1] / "cases" / "data_file" / "format-1.db"


def _header(path: Path) -> tuple[int, int]:
    with sqlite3.connect(path) as conn:
        return (
            conn.execute("PRAGMA application_id").fetchone()[0],
            conn.execute("PRAGMA user_version").fetchone()[0],
        )


def test_a_format_1_data_file_is_upgraded_and_diffs_as_a_new_one(
    manager: SeparatedDatabaseManager,
) -> None:
    make_source(manager, "old", "legacy")
    path = manager.data_file_path("old", "legacy")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(GOLDEN.read_bytes())
    assert _header(path) == (DATA_FORMAT.application_id, 1)
    history = "SELECT id, key, record, first_version, last_version FROM record_history ORDER BY id"
    with closing(sqlite3.connect(path)) as conn:
        rows_before = conn.execute(history).fetchall()
    source = ("old", "legacy")
    assert manager.get_data_version(*source, 1).data == [
        {"id": 1.0, "v": "a"},
        {"id": 2, "v": "b"},
        {"id": 3, "v": "c"},
    ]
    assert _header(path) == (DATA_FORMAT.application_id, DATA_FORMAT.latest)
    with closing(sqlite3.connect(path)) as conn:
        # Where rows end moved to a table of its own (format 5); the published name reads the
        # same rows, the keys made canonical by format 2 aside.
        assert [(i, r, f, last) for i, _, r, f, last in conn.execute(history)] == [
            (i, r, f, last) for i, _, r, f, last in rows_before
        ]
        assert conn.execute("SELECT count(*) FROM record_ends").fetchone()[0] == sum(
            1 for row in rows_before if row[4] is not None
        )
        # Format 7: the first version's rows are out of the index of rows by first version.
        (index,) = conn.execute(
            "SELECT sql FROM sqlite_schema WHERE name = 'record_history_first_version'"
        ).fetchone()
        assert index.endswith("ON record_rows(first_version) WHERE first_version > 1")
    # Versions written before keep the order format 1 gave them: key 1 was new then.
    assert manager.get_data_version(*source, 2).data == [{"id": 3, "v": "c"}, {"id": 1, "v": "a"}]
    first = manager.get_data_diff(*source, 1, 2)
    assert (first.added, first.removed, first.modified) == (0, 1, 0)
    assert first.details.removed == [{"id": 2, "v": "b"}]
    assert manager.get_data_diff(*source, 3, 1).total_changes == 0
    manager.update_data_source(*source, config={"script": "return [];", "keylessDiff": True})
    assert manager.get_data_diff(*source, 4, 5).total_changes == 0
    v5 = manager.get_data_version(*source, 5).data
    result = manager.import_data(*source, [*reversed(v5), {"c": 3}])
    assert result.diff is not None and result.diff.to_dict()["details"] == {
        "added": [{"c": 3}],
        "removed": [],
        "modified": [],
    }
    assert manager.get_data_version(*source, 6).data == [*reversed(v5), {"c": 3}]
    assert manager.get_data_version(*source, 5).data == v5
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_format_3_drops_the_indexes_no_query_uses(manager: SeparatedDatabaseManager) -> None:
    make_source(manager, "old", "legacy")
    path = manager.data_file_path("old", "legacy")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(GOLDEN.read_bytes())
    manager.list_versions("old", "legacy")
    with closing(sqlite3.connect(path)) as conn:
        indexes = {
            row[0] for row in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'index'")
        }
    assert not indexes & {"import_logs_started_at", "quality_metrics_created_at"}
    assert {"data_versions_created_at", "import_logs_version"} <= indexes
