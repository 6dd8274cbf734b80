"""A version is read in chunks of rows (SQLite over windows of ids that widen where rows are
sparse, PostgreSQL as libpq hands them over in chunks), then put back in import order: every row
must arrive exactly once, whatever the ids of the rows a version shares with older ones."""

from __future__ import annotations

import os
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from unittest.mock import patch

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from manifold_pipelines import SeparatedDatabaseManager
from manifold_pipelines.db.database import Database, Same
from manifold_pipelines.db.postgres import JSON_FETCH_ROWS, PostgresDatabase
from manifold_pipelines.db.sqlite import ROWS_PER_INSERT, SqliteDatabase
from manifold_pipelines.db.sqlite_windows import JSON_CHUNK_ROWS, window_queries
from manifold_pipelines.errors import DatabaseError, StorageError
from manifold_pipelines.versions import reading
from manifold_pipelines.versions.reading import in_position_order
from manifold_tests.raw_storage import source_sql


@pytest.fixture
def database(engine: str, tmp_path: Path) -> Iterator[Database]:
    db: Database
    if engine == "sqlite":
        db = SqliteDatabase(tmp_path / "samples.db", what="test file")
    else:
        db = PostgresDatabase(os.environ["MANIFOLD_DATABASE_URL"], "samples", what="test schema")
    with db.writing():
        db.execute("CREATE TABLE samples (id BIGINT PRIMARY KEY, n BIGINT, j TEXT, keep INTEGER)")
    yield db
    db.close()


def scattered_ids() -> list[int]:
    """Dense stretches, a stretch with one row in 997 ids, a gap far wider than any window,
    and ids beyond 32 bits."""
    return [
        *range(1, 3 * JSON_CHUNK_ROWS),
        *range(3 * JSON_CHUNK_ROWS, 400_000, 997),
        *range(10**9, 10**9 + JSON_FETCH_ROWS + 5),
        2**62,
    ]


def test_every_row_arrives_once_with_its_number_however_the_ids_are_spread(
    database: Database,
) -> None:
    ids = scattered_ids()
    texts = ['{"s":"a,b]","u":"é\\u2028😀"}', "[1,[2,{}]]", '"[,]"', "-1.5e300", "null"]
    rows = [(i, -i if i % 2 else i + 1, texts[i % len(texts)], i % 3) for i in ids]
    with database.writing():
        database.insert_rows("samples", ("id", "n", "j", "keep"), rows)
    kept = [(n, text) for _, n, text, keep in rows if keep]
    with database.reading():
        numbers, values, left_out = database.numbered_json(
            "SELECT id, n, j FROM samples WHERE keep > :none", {"none": 0}
        )
    expected = sorted((n, orjson.loads(text)) for n, text in kept)
    assert sorted(zip(numbers, values, strict=True)) == expected
    assert left_out == []


def test_ended_rows_are_left_out_or_named_however_a_window_holds_them(
    database: Database, engine: str
) -> None:
    """SQLite hands a window's ended rows over, named by place, only where they are few and the
    window holds every id of its range; a window with many ended rows, or with ids missing,
    leaves them out by a query instead. Every other row must arrive once, and every row named
    must be an ended one."""
    window = JSON_CHUNK_ROWS
    dense_end = 4 * window + 1000
    ids = [*range(5, dense_end), *range(dense_end, 300_000, 991), *range(10**9, 10**9 + window)]
    # Windows start after id 4: (4, 4+w] hands its few over at place 0; (4+w, 4+2w] has a
    # quarter ended, left out by the query, and widens the next to 4w/3; that one hands its
    # few over at a place and an id far from 0; the next misses a row (not kept), and is
    # read again without its ended rows, as are the sparse windows after it, until an empty
    # one (nothing missing there): the last stretch, after it, hands its last row over.
    handed = {
        *range(7, window, 97),
        *range(2 * window + 104, 2 * window + 2700, 301),
        10**9 + window - 1,
    }
    missing = 3 * window + 900
    ended = {
        *handed,
        *range(window + 5, window + 5 + window // 4),
        *range(missing + 5, missing + 9),
        *ids[dense_end - 5 : dense_end + 45 : 7],  # among sparse rows
        dense_end + 2,  # no row at all
        10**9 + window - 1,  # the last row
    }
    rows = [(i, 3 * i, f'{{"id":{i}}}', 0 if i == missing else 1) for i in ids]
    with database.writing():
        database.execute("CREATE TABLE ends (id BIGINT PRIMARY KEY, v INTEGER)")
        database.insert_rows("samples", ("id", "n", "j", "keep"), rows)
        database.insert_rows("ends", ("id", "v"), [(i, i % 2) for i in sorted(ended)])
    with database.reading():
        numbers, values, left_out = database.numbered_json(
            "SELECT id, n, j FROM samples WHERE keep = :keep",
            {"keep": 1},
            "SELECT id FROM ends WHERE v < :keep + 1",
        )
    assert left_out == sorted(set(left_out))
    assert {numbers[index] // 3 for index in left_out} == (handed if engine == "sqlite" else set())
    skipped = set(left_out)
    read = [
        (n, value)
        for index, (n, value) in enumerate(zip(numbers, values, strict=True))
        if index not in skipped
    ]
    expected = [(3 * i, {"id": i}) for i, _, _, keep in rows if keep and i not in ended]
    assert sorted(read, key=lambda row: row[0]) == expected
    # A window that ends before its range does holds every id up to its greatest: its ended
    # rows are handed over, and ended ids past that greatest, naming no row read, are not.
    with database.reading():
        numbers, values, left_out = database.numbered_json(
            "SELECT id, n, j FROM samples WHERE id <= 100", {}, "SELECT id FROM ends"
        )
    assert [numbers[index] // 3 for index in left_out] == ([7] if engine == "sqlite" else [])
    kept = sorted(n for index, n in enumerate(numbers) if index not in set(left_out))
    assert kept == [3 * i for i in range(5, 101) if i != 7]


@pytest.mark.sqlite_only
def test_a_version_is_read_a_range_of_the_primary_key_at_a_time(
    manager: SeparatedDatabaseManager, source: tuple[str, str], home: Path
) -> None:
    """Ended rows handed over are named by their distance from their window's start, which
    holds only while SQLite reads each window of a data file as a range of the primary key,
    in id order: the reads' own queries, on a data file with every index it has."""
    manager.import_data(*source, [{"id": i} for i in range(50)])
    manager.import_data(*source, [{"id": i, "v": 2} for i in range(0, 50, 3)])
    queries = window_queries(reading._ROWS_UP_TO, reading._ENDED_BEFORE)
    bounds = {"v": 2, "after": 0, "width": 10, "most": 1}
    with source_sql(home, *source) as conn:
        for query in (queries.window, queries.without_ended, queries.ended_in_window):
            plan = [row[-1] for row in conn.execute(f"EXPLAIN QUERY PLAN {query}", bounds)]
            assert "PRIMARY KEY (rowid>? AND rowid<?)" in plan[0], plan
            # every table read as a range of its primary key: no scan of a whole table, no
            # copy of the version's rows (a second mention of the rows once made SQLite copy
            # them all, for each window), no sort
            reads = [step for step in plan if step.startswith(("SEARCH", "SCAN"))]
            assert all("PRIMARY KEY (rowid>? AND rowid<?)" in step for step in reads), plan
            assert not [step for step in plan if "MATERIALIZE" in step or "B-TREE" in step], plan


@pytest.mark.parametrize(
    ("column", "text", "sqlite_only"),
    [("record", "not json", False), ("position", '"a"', True)],
)
def test_an_ended_row_that_does_not_read_back_harms_no_version_without_it(
    manager: SeparatedDatabaseManager,
    source: tuple[str, str],
    home: Path,
    engine: str,
    column: str,
    text: str,
    sqlite_only: bool,
) -> None:
    """SQLite reads a window's few ended rows with the rest: a damaged one among them makes it
    read the rows again without them, so only the versions that hold it refuse to read."""
    if sqlite_only and engine != "sqlite":
        pytest.skip("PostgreSQL refuses a position that is not a number")
    first = [{"id": i} for i in range(50)]
    second = [{"id": i, "v": 2} if i == 2 else {"id": i} for i in range(50)]
    manager.import_data(*source, first)
    manager.import_data(*source, second)
    with source_sql(home, *source) as conn:
        conn.execute(f"UPDATE record_rows SET {column} = ? WHERE id = 3", (text,))
    assert manager.get_latest_data(*source).data == second
    with pytest.raises(StorageError, match=r"does not read back whole"):
        manager.get_data_version(*source, 1)


def test_rows_given_as_columns_are_written_exactly_across_statements(
    database: Database,
) -> None:
    """SQLite writes ROWS_PER_INSERT rows a statement: rows on both sides of each boundary,
    and the last statement's fewer, land whole with their own values."""
    count = 2 * ROWS_PER_INSERT + 7
    ids = range(2**40, 2**40 + count)
    numbers = [-(2**63) if i % 2 else i for i in range(count)]
    texts = [f'{{"n":{i},"s":"é\\u2028😀"}}' for i in range(count)]
    keeps = [None if i % 3 else i for i in range(count)]
    with database.writing():
        database.insert_columns("samples", ("id", "n", "j", "keep"), (ids, numbers, texts, keeps))
        with pytest.raises(ValueError):  # a column shorter than the others
            database.insert_columns("samples", ("id", "n", "j", "keep"), ([1, 2], [1], [""], [0]))
    with database.reading():
        rows = database.execute("SELECT id, n, j, keep FROM samples ORDER BY id").fetchall()
    assert [tuple(row) for row in rows] == list(zip(ids, numbers, texts, keeps, strict=True))


@pytest.mark.parametrize("kept", [None, 3])
def test_columns_the_engine_computes_are_written_as_given(
    database: Database, kept: int | None
) -> None:
    """A range with any step and a Same column may be computed by the engine (SQLite adds the
    row's offset times the step to the first value of each statement): every row, on both
    sides of each statement boundary, holds exactly the column's value."""
    count = 2 * ROWS_PER_INSERT + 7
    ids = range(10, 10 + 3 * count, 3)
    numbers = range(2**40, 2**40 - count * 65536, -65536)
    texts = [f'{{"n":{i}}}' for i in range(count)]
    keeps = Same(kept, count)
    assert len(keeps[5:9]) == 4 and keeps[count - 1] == kept
    with pytest.raises(IndexError):
        keeps[count]  # past the end, as a list
    with database.writing():
        database.insert_columns("samples", ("id", "n", "j", "keep"), (ids, numbers, texts, keeps))
    with database.reading():
        rows = database.execute("SELECT id, n, j, keep FROM samples ORDER BY id").fetchall()
    assert [tuple(row) for row in rows] == list(zip(ids, numbers, texts, keeps, strict=True))


def test_a_range_past_64_bits_is_refused_not_stored_as_a_float(database: Database) -> None:
    """SQLite would carry `?1+offset` past 2**63 on as a REAL: such a range is bound a value a
    row instead, and refused as an int too large, with nothing written."""
    count = 2 * ROWS_PER_INSERT
    numbers = range(2**63 - ROWS_PER_INSERT - 10, 2**63 + ROWS_PER_INSERT - 10)
    columns = ("id", "n", "j", "keep")
    with pytest.raises((OverflowError, DatabaseError)), database.writing():
        database.insert_columns(
            "samples", columns, (range(count), numbers, ["{}"] * count, [0] * count)
        )
    with database.reading():
        assert database.execute("SELECT count(*) FROM samples").fetchone()[0] == 0
    within = range(2**63 - 3, 2**63)  # the last three 64-bit integers are computed exactly
    with database.writing():
        database.insert_columns("samples", columns, (range(3), within, ["{}"] * 3, [0] * 3))
    with database.reading():
        stored = database.execute("SELECT n FROM samples ORDER BY id").fetchall()
    assert [row[0] for row in stored] == list(within)


def test_no_rows_give_three_empty_lists(database: Database) -> None:
    with database.reading():
        assert database.numbered_json("SELECT id, n, j FROM samples", {}) == ([], [], [])


def test_a_version_scattered_among_ended_rows_reads_back_exactly(
    manager: SeparatedDatabaseManager, source: tuple[str, str]
) -> None:
    """Version 2 keeps one record in 400 of a long stretch of version 1, changes some, and
    inserts others between kept ones: its rows are sparse among the ids, out of id order by
    position, and more than one window and one fetch long."""
    first = [{"id": i, "name": f"n{i}", "tags": [i, {"k": None}]} for i in range(12_000)]
    second = [
        {**record, "name": "changed"} if record["id"] % 1000 == 7 else record
        for record in first
        if not 2_000 <= record["id"] < 10_000 or record["id"] % 400 == 0
    ]
    second[1_000:1_000] = [{"id": f"new{i}", "z": 1, "a": 2} for i in range(50)]
    third = second[::-1]
    for records in (first, second, third):
        manager.import_data(*source, records)
    for number, records in enumerate((first, second, third), start=1):
        assert manager.get_data_version(*source, number).data == records


def test_versions_of_a_source_that_only_ever_added_read_back_exactly(
    manager: SeparatedDatabaseManager, source: tuple[str, str]
) -> None:
    """No row of these versions ever ended, so they are read without the probe of
    `record_ends`; new records land among the old ones, a few (merged into the ordered rows)
    and then as many again as there were (sorted whole)."""
    first = [{"id": i, "v": [i]} for i in range(0, 6_000, 2)]
    second = [*first[:1_000], {"id": "between"}, *first[1_000:], {"id": "last"}]
    third = [
        record
        for pair in zip(second, [{"id": f"x{i}"} for i in range(len(second))], strict=True)
        for record in pair
    ]
    for records in (first, second, third):
        manager.import_data(*source, records)
    project = manager.core.get_project(source[0])
    with manager.backend.versions(project, source[1]) as store, store.reading() as db:
        assert db.execute("SELECT count(*) FROM record_ends").fetchone()[0] == 0
    for number, records in enumerate((first, second, third), start=1):
        assert manager.get_data_version(*source, number).data == records
    assert manager.get_latest_data(*source).data == third


def test_an_older_version_whose_rows_end_no_later_reads_back_exactly(
    manager: SeparatedDatabaseManager, source: tuple[str, str]
) -> None:
    """Version 2 ended rows of version 1 and version 3 only added: version 2 must leave out
    both the rows it ended and the rows version 3 added."""
    first = [{"id": i} for i in range(50)]
    second = [{"id": i, "v": 2} if i % 7 == 0 else {"id": i} for i in range(50)]
    third = [*second, *({"id": i} for i in range(50, 60))]
    for records in (first, second, third):
        manager.import_data(*source, records)
    for number, records in enumerate((first, second, third), start=1):
        assert manager.get_data_version(*source, number).data == records


@pytest.mark.parametrize(
    ("column", "text", "sqlite_only"),
    [
        ("record", '{"a": 1},{"b": 2}', False),  # two values where one was written
        ("record", "not json", False),
        ("position", "1,2", True),  # SQLite keeps what its INTEGER column cannot read as one
        ("position", "x", True),
        ("position", '"x"', True),
    ],
)
def test_a_damaged_row_is_a_clear_error_when_read(
    manager: SeparatedDatabaseManager,
    source: tuple[str, str],
    home: Path,
    engine: str,
    column: str,
    text: str,
    sqlite_only: bool,
) -> None:
    if sqlite_only and engine != "sqlite":
        pytest.skip("PostgreSQL refuses a position that is not a number")
    records = [{"id": i} for i in range(5)]
    manager.import_data(*source, records)
    with source_sql(home, *source) as conn:
        conn.execute(f"UPDATE record_rows SET {column} = ? WHERE id = 3", (text,))
    with pytest.raises(StorageError, match=r"does not read back whole.*restore it from a backup"):
        manager.get_latest_data(*source)


def positions_as_read() -> st.SearchStrategy[list[int]]:
    """Positions in the order rows are read: an ordered run (the rows of older imports), then a
    tail of rows later imports wrote, short or long, sometimes equal to positions before it."""
    ordered = st.lists(st.integers(0, 60), max_size=80).map(sorted)
    tail = st.lists(st.integers(-5, 65), max_size=40)
    return st.one_of(
        st.builds(lambda head, rest: head + rest, ordered, tail),
        st.lists(st.integers(0, 20), max_size=60),
    )


@settings(max_examples=300)
@given(positions=positions_as_read(), data=st.data())
def test_rows_are_put_in_position_order_as_a_stable_sort_would(
    positions: list[int], data: st.DataObject
) -> None:
    """Rows of equal positions keep their order (the order they were read), so a tail merged
    in lands after the ordered rows of its position, as a stable sort of the whole puts it;
    rows left out (ended rows handed over) are skipped wherever they are, among the ordered
    rows or in the tail, at the place a tail row lands or next to another left out."""
    rows = [f"row {index}" for index in range(len(positions))]
    indices = st.sets(st.sampled_from(range(len(positions)))) if positions else st.just(set())
    left_out = sorted(data.draw(indices))
    kept = [
        pair
        for index, pair in enumerate(zip(positions, rows, strict=True))
        if index not in left_out
    ]
    expected = [row for _, row in sorted(kept, key=lambda p: p[0])]
    pairs = pairwise(positions)
    first_descent = next((at for at, (a, b) in enumerate(pairs, 1) if a > b), None)
    for run_rows in (1, 2, 3, reading._RUN_ROWS):  # order checked a run at a time
        with patch.object(reading, "_RUN_ROWS", run_rows):
            assert reading._first_descent(positions) == first_descent
            assert in_position_order(positions, rows, left_out) == expected
            if not left_out:
                assert in_position_order(positions, rows) == expected


def test_rows_of_uneven_width_are_refused_before_any_is_written(tmp_path: Path) -> None:
    """SQLite binds a statement's rows as one flat list of values: a short row followed by a
    long one would shift every value after it into the wrong column."""
    db = SqliteDatabase(tmp_path / "uneven.db", what="test file")
    try:
        with db.writing():
            db.execute("CREATE TABLE samples (a INTEGER, b INTEGER, c INTEGER, d INTEGER)")
            with pytest.raises(ValueError, match="must each hold 4 values"):
                db.insert_rows("samples", ("a", "b", "c", "d"), [(1, 2, 3), (4, 5, 6, 7, 8)])
            assert db.execute("SELECT count(*) FROM samples").fetchone()[0] == 0
    finally:
        db.close()
