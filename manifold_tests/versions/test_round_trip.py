"""Every version must read back exactly as it was imported, whatever came after it: that is
the promise a versioned store makes, and the row-history layout must keep it."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from manifold_pipelines import SeparatedDatabaseManager
from manifold_pipelines.backends.postgres import source_schema
from manifold_pipelines.errors import DiffKeyError
from manifold_tests.conftest import batches_of, make_source
from manifold_tests.raw_storage import catalogue_sql, row_indexes, source_sql

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.text(st.characters(exclude_categories=("Cs",)), max_size=8)
    | st.floats(allow_nan=False, allow_infinity=False)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)
field_names = st.sampled_from(["name", "price", "tags", "meta", "note"])
records_by_id = st.dictionaries(
    st.integers(0, 30), st.dictionaries(field_names, json_values, max_size=4), max_size=12
)


def as_records(by_id: dict[int, dict]) -> list[dict]:
    return [{"id": key, **fields} for key, fields in by_id.items()]


def test_two_versions_read_back_exactly(manager: SeparatedDatabaseManager, source: tuple) -> None:
    v1 = [{"id": 1, "name": "a", "tags": ["x"]}, {"id": 2, "name": "b", "n": 1.5}]
    v2 = [{"id": 2, "name": "b", "n": 1.5}, {"id": 3, "name": "c", "deep": {"k": [1, {"z": None}]}}]
    assert manager.import_data(*source, v1).version == 1
    assert manager.import_data(*source, v2).version == 2
    assert manager.get_data_version(*source, 1).data == v1
    latest = manager.get_latest_data(*source)
    assert (latest.version, latest.data, latest.record_count) == (2, v2, 2)
    assert latest.previous_version == 1


def test_field_order_and_json_types_survive(
    manager: SeparatedDatabaseManager, source: tuple
) -> None:
    record = {"z": 1, "a": 1.0, "m": True, "id": "7", "big": 2**63 - 1, "u": "é\u2028😀"}
    manager.import_data(*source, [record], diff_key="id")
    back = manager.get_latest_data(*source).data[0]
    assert list(back) == ["z", "a", "m", "id", "big", "u"]
    assert [type(v) for v in back.values()] == [int, float, bool, str, int, str]
    assert back == record


def test_a_version_keeps_first_seen_key_order(
    manager: SeparatedDatabaseManager, source: tuple
) -> None:
    manager.import_data(*source, [{"id": i, "v": 0} for i in range(5)])
    manager.import_data(*source, [{"id": i, "v": 1 if i == 2 else 0} for i in range(6)])
    assert [r["id"] for r in manager.get_latest_data(*source).data] == [0, 1, 2, 3, 4, 5]


def test_a_rollback_reads_back_in_the_order_it_restores(
    manager: SeparatedDatabaseManager, source: tuple
) -> None:
    a, b, c = {"id": "A"}, {"id": "B"}, {"id": "C"}
    manager.import_data(*source, [a, b, c])
    manager.import_data(*source, [a, c])
    manager.rollback(*source, 1)
    assert manager.get_latest_data(*source).data == [a, b, c]
    assert manager.get_data_version(*source, 2).data == [a, c]
    assert manager.get_data_version(*source, 1).data == [a, b, c]


def test_reordered_and_returning_records_read_back_as_imported_in_every_version(
    manager: SeparatedDatabaseManager, source: tuple
) -> None:
    versions = [
        [{"id": i} for i in range(6)],
        [{"id": i} for i in (5, 4, 3, 2, 1, 0)],  # the same records, reversed
        [{"id": i} for i in (5, 9, 3, 0)],
        [{"id": i, "v": 1} if i == 4 else {"id": i} for i in (4, 5, 9, 1, 3, 0, 8)],
    ]
    for records in versions:
        manager.import_data(*source, records)
    for number, records in enumerate(versions, start=1):
        assert manager.get_data_version(*source, number).data == records
    assert manager.get_data_diff(*source, 1, 2).total_changes == 0
    assert manager.list_versions(*source)[1].diff == {
        "added": 0,
        "removed": 0,
        "modified": 0,
        "totalChanges": 0,
    }
    history = manager.record_history(*source, 4)
    assert [(h.version, h.change) for h in history] == [
        (1, "added"),
        (3, "removed"),
        (4, "added"),
    ]


def test_inserting_at_one_spot_again_and_again_keeps_every_version_in_order(
    manager: SeparatedDatabaseManager, source: tuple
) -> None:
    """Each import puts a new record between the first and the last one inserted: more
    times than there is room between two positions, so neighbours must be rewritten."""
    records: list[dict] = [{"id": "first"}, {"id": "last"}]
    versions = []
    for step in range(40):
        records = [records[0], {"id": step}, *records[1:]]
        versions.append(records)
        manager.import_data(*source, records)
    for number, expected in enumerate(versions, start=1):
        assert manager.get_data_version(*source, number).data == expected


# Per engine: how to read the data column's documentation, and a record's field, in SQL.
PLAIN_SQL = {
    "sqlite": (
        "SELECT sql FROM sqlite_schema WHERE name = 'data_versions'",
        "json_extract(record, '$.name')",
    ),
    "postgresql": (
        "SELECT col_description('data_versions'::regclass, attnum) FROM pg_attribute"
        " WHERE attrelid = 'data_versions'::regclass AND attname = 'data'",
        "record::json ->> 'name'",
    ),
}


def test_data_column_is_documented_and_records_are_readable_in_plain_sql(
    manager: SeparatedDatabaseManager, source: tuple, home: Path, engine: str
) -> None:
    manager.import_data(*source, [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}])
    manager.import_data(*source, [{"id": 1, "name": "a2"}])
    if engine == "postgresql":  # the catalogue says which schema is the source's
        with catalogue_sql(home) as conn:
            assert conn.execute(
                "SELECT schema_name FROM source_schemas WHERE project_id = ? AND source_id = ?",
                source,
            ).fetchone() == (source_schema(*source),)
    documentation, name = PLAIN_SQL[engine]
    with source_sql(home, *source) as conn:
        assert "Always NULL" in conn.execute(documentation).fetchone()[0]
        assert conn.execute("SELECT count(*) FROM data_versions WHERE data IS NULL").fetchone() == (
            2,
        )
        version_1 = conn.execute(
            f"SELECT {name} FROM record_history WHERE first_version <= 1"
            " AND (last_version IS NULL OR last_version >= 1) ORDER BY position"
        ).fetchall()
        latest = conn.execute(f"SELECT {name} FROM latest_records").fetchall()
    assert [tuple(row) for row in version_1] == [("a",), ("b",)]
    assert [tuple(row) for row in latest] == [("a2",)]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@pytest.mark.slow
@given(st.lists(records_by_id, min_size=1, max_size=6))
def test_any_sequence_of_imports_reads_back_version_by_version(
    manager: SeparatedDatabaseManager, imports: list[dict[int, dict]]
) -> None:
    name = f"s{len(manager.list_data_sources())}"
    make_source(manager, source_id=name)
    for data in imports:
        manager.import_data("demo", name, as_records(data))
    for number, data in enumerate(imports, start=1):
        assert manager.get_data_version("demo", name, number).data == as_records(data)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@pytest.mark.slow
@given(st.lists(records_by_id, min_size=2, max_size=5), st.data())
def test_diff_from_a_to_b_applied_to_a_gives_b(
    manager: SeparatedDatabaseManager, imports: list[dict[int, dict]], data: st.DataObject
) -> None:
    name = f"s{len(manager.list_data_sources())}"
    make_source(manager, source_id=name)
    for records in imports:
        manager.import_data("demo", name, as_records(records))
    a = data.draw(st.integers(1, len(imports)))
    b = data.draw(st.integers(1, len(imports)))
    diff = manager.get_data_diff("demo", name, a, b)
    state = {r["id"]: r for r in manager.get_data_version("demo", name, a).data}
    for record in diff.details.removed:
        del state[record["id"]]
    for change in diff.details.modified:
        state[change.new["id"]] = change.new
    for record in diff.details.added:
        assert record["id"] not in state
        state[record["id"]] = record
    assert state == {r["id"]: r for r in as_records(imports[b - 1])}


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.lists(st.tuples(st.integers(0, 8), st.integers(0, 2)), max_size=10),
        min_size=1,
        max_size=6,
    ),
    st.booleans(),
    st.sampled_from([1, 3, 10_000]),
)
@pytest.mark.slow
def test_every_version_reads_back_in_import_order_and_lists_its_diff_as_get_data_diff_does(
    manager: SeparatedDatabaseManager,
    monkeypatch: pytest.MonkeyPatch,
    imports: list[list[tuple[int, int]]],
    keyless: bool,
    batch: int,
) -> None:
    """Records leave, return, change and move; keyless versions also hold copies and records
    whose fields come in another order. Small batches match a version against the live rows
    a few records at a time."""
    batches_of(monkeypatch, batch)
    name = f"s{len(manager.list_data_sources())}"
    make_source(manager, source_id=name, keylessDiff=keyless)
    versions = []
    for pairs in imports:
        records = [{"v": v, "id": i} if v == 2 else {"id": i, "v": v} for i, v in pairs]
        if not keyless:
            records = list({record["id"]: record for record in records}.values())
        result = manager.import_data("demo", name, records)
        versions.append(records)
        if result.previous_version is not None:
            assert result.diff is not None
            asked = manager.get_data_diff("demo", name, result.previous_version, result.version)
            assert result.diff.to_dict() == asked.to_dict()
    for number, records in enumerate(versions, start=1):
        assert manager.get_data_version("demo", name, number).data == records


def test_import_accepts_any_iterable_of_records(
    manager: SeparatedDatabaseManager, source: tuple
) -> None:
    result = manager.import_data(*source, ({"id": i} for i in range(3)))
    assert result.record_count == 3
    assert manager.get_latest_data(*source).data == [{"id": 0}, {"id": 1}, {"id": 2}]


@pytest.mark.parametrize("count", [0, 1])
def test_empty_and_single_record_versions(
    manager: SeparatedDatabaseManager, source: tuple, count: int
) -> None:
    manager.import_data(*source, [{"id": i} for i in range(count)])
    assert manager.get_latest_data(*source).data == [{"id": i} for i in range(count)]


def test_a_large_first_import_keeps_exact_counts_but_bounded_details(
    manager: SeparatedDatabaseManager, source: tuple
) -> None:
    rows = [{"id": i, "v": None if i % 4 else "x"} for i in range(10_500)]
    result = manager.import_data(*source, iter(rows))  # streamed, as a sandbox run is
    assert result.diff is not None and result.diff.added == 10_500
    assert len(result.diff.details.added) == 10_000 == result.diff.to_dict()["added"] - 500
    completeness = next(m for m in result.quality if m.field == "v")
    assert completeness.value == pytest.approx(2625 / 10_500)
    assert manager.get_latest_data(*source).data == rows


def test_a_first_import_builds_the_row_indexes_once_its_rows_are_in(
    manager: SeparatedDatabaseManager, source: tuple[str, str], home: Path
) -> None:
    """A first import drops the row indexes and builds them after its rows (cheaper than
    keeping them in order row by row): the store ends with exactly the indexes a new store
    has, and a first import that is refused leaves them as they were."""
    make_source(manager, "demo", "empty")
    manager.list_versions("demo", "empty")  # a store as its migrations made it
    expected = row_indexes(home, "demo", "empty")
    assert expected == {
        "record_rows_key": ("key", "id"),
        "record_rows_recent_key": ("key", "id"),
        "record_history_first_version": ("first_version",),
    }
    with pytest.raises(DiffKeyError, match="another record also has"):
        manager.import_data(*source, [{"id": 1}, {"id": 2}, {"id": 1}])
    assert row_indexes(home, *source) == expected
    manager.import_data(*source, [{"id": i, "v": i} for i in range(50)])
    assert row_indexes(home, *source) == expected
    manager.import_data(*source, [{"id": 7, "v": "changed"}], mode="incremental")
    assert manager.get_latest_data(*source).data[7] == {"id": 7, "v": "changed"}
