"""The key index in two parts (versions/key_index.py): imports write keys only into the
recent part, which folds into the base once it has grown to a quarter of it, and every
lookup and every record's history still finds every state of a key, on both engines."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from manifold_pipelines import SeparatedDatabaseManager
from manifold_pipelines.errors import RecordsError
from manifold_pipelines.versions.key_index import key_conditions
from manifold_pipelines.versions.key_index_upkeep import ROW_ID_RANGE
from manifold_pipelines.versions.store import _ROWS_ONLY_AT_HIGH
from manifold_tests.raw_storage import row_indexes, source_sql

BASE = 400


def _split(home: Path, source: tuple[str, str]) -> tuple[int, int]:
    """(bound, rows at or above it): where the index is split, and what the recent part holds."""
    with source_sql(home, *source) as conn:
        (bound,) = conn.execute("SELECT bound FROM key_index_bound").fetchone()
        (recent,) = conn.execute(
            "SELECT count(*) FROM record_rows WHERE id >= ?", (bound,)
        ).fetchone()
    return int(bound), int(recent)


def _change(records: dict[int, dict[str, Any]], ids: range, round_: int) -> list[dict[str, Any]]:
    upserts = [{"id": i, "v": f"round {round_}"} for i in ids]
    records.update((record["id"], record) for record in upserts)
    return upserts


def test_imports_fill_the_recent_part_which_folds_into_the_base_when_due(
    manager: SeparatedDatabaseManager, source: tuple[str, str], home: Path
) -> None:
    records = {i: {"id": i, "v": "first"} for i in range(BASE)}
    manager.import_data(*source, list(records.values()))
    assert _split(home, source) == (BASE + 1, 0)  # a first import: every row in the base
    splits = []
    for round_ in range(1, 4):  # 40 changed records a round: the third passes a quarter
        upserts = _change(records, range(round_, BASE, 10), round_)
        manager.import_data(*source, upserts, deleted=[BASE - round_], mode="incremental")
        del records[BASE - round_]
        splits.append(_split(home, source))
        assert manager.get_latest_data(*source).data == sorted(
            records.values(), key=lambda record: record["id"]
        )
    assert splits == [(BASE + 1, 40), (BASE + 1, 80), (BASE + 121, 0)]
    assert set(row_indexes(home, *source)) == {
        "record_rows_key",
        "record_rows_recent_key",
        "record_history_first_version",
    }
    # A snapshot import writes its changed rows into the recent part too.
    snapshot = [
        {**record, "v": "snapshot"} if record["id"] < 20 else record for record in records.values()
    ]
    manager.import_data(*source, snapshot)
    assert _split(home, source) == (BASE + 121, 20)
    # Key 1 changed in rounds 1 (base, once folded), then in the snapshot (recent).
    history = manager.record_history(*source, 1)
    assert [(step.version, step.record["v"]) for step in history] == [
        (1, "first"),
        (2, "round 1"),
        (5, "snapshot"),
    ]
    # A key whose newest row is in the base (21, changed in round 1, before the fold) and
    # one whose newest is in the recent part (13, by the snapshot), upserted unchanged.
    result = manager.import_data(
        *source, [{"id": 21, "v": "again"}, {"id": 13, "v": "snapshot"}], mode="incremental"
    )
    assert result.version == 6 and result.diff is not None
    assert (result.diff.added, result.diff.modified, result.diff.removed) == (0, 1, 0)
    latest = {record["id"]: record for record in manager.get_latest_data(*source).data}
    assert latest[21] == {"id": 21, "v": "again"} and latest[13] == {"id": 13, "v": "snapshot"}


def _key_index_conditions(home: Path, source: tuple[str, str]) -> tuple[str, str]:
    """The conditions of the recent and the base key index, as the engine stores them."""
    postgres = os.environ.get("MANIFOLD_DATABASE_URL") is not None
    definition = (
        "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND indexname = ?"
        if postgres
        else "SELECT sql FROM sqlite_schema WHERE name = ?"
    )
    with source_sql(home, *source) as conn:
        texts = [
            conn.execute(definition, (name,)).fetchone()[0]
            for name in ("record_rows_recent_key", "record_rows_key")
        ]
    return texts[0].split("WHERE")[1].strip(" ()"), texts[1].split("WHERE")[1].strip(" ()")


@pytest.mark.parametrize("feed", [list, iter])
def test_a_first_import_leaves_both_parts_split_after_its_rows_however_they_come(
    manager: SeparatedDatabaseManager, source: tuple[str, str], home: Path, feed: Any
) -> None:
    """A list's length tells the bound before the rows are written, and the recent index is
    made then; a refused import (a record without its key) is rolled back whole; a stream's
    indexes are both built once its rows are in. Either way the split is at the next row."""
    missing = [{"id": i} for i in range(BASE)] + [{"other": 1}]
    with pytest.raises(RecordsError):
        manager.import_data(*source, feed(missing))
    manager.import_data(*source, feed([{"id": i} for i in range(BASE)]))
    assert _split(home, source) == (BASE + 1, 0)
    assert _key_index_conditions(home, source) == (f"id >= {BASE + 1}", f"id < {BASE + 1}")
    manager.import_data(*source, [{"id": 1, "v": 2}], mode="incremental")
    assert _split(home, source) == (BASE + 1, 1)
    assert [step.record for step in manager.record_history(*source, 1)] == [
        {"id": 1},
        {"id": 1, "v": 2},
    ]


def test_a_refused_import_leaves_the_split_where_it_was(
    manager: SeparatedDatabaseManager, source: tuple[str, str], home: Path
) -> None:
    manager.import_data(*source, [{"id": i} for i in range(BASE)])
    before = manager.get_latest_data(*source).data
    upserts = [{"id": i, "v": 1} for i in range(200)]  # enough to fold, had it committed
    with pytest.raises(RecordsError, match="both upserted and deleted"):
        manager.import_data(*source, upserts, deleted=[5], mode="incremental")
    assert _split(home, source) == (BASE + 1, 0)
    assert manager.get_latest_data(*source).data == before
    manager.import_data(*source, upserts, mode="incremental")
    assert _split(home, source) == (BASE + 201, 0)


def test_each_part_serves_the_lookups_of_its_own_ids(
    manager: SeparatedDatabaseManager, source: tuple[str, str], home: Path
) -> None:
    """The planner can use each partial index for the condition the store writes: were the
    bound's literal and the index's condition to drift apart, a lookup would read every row."""
    manager.import_data(*source, [{"id": i} for i in range(BASE)])
    bound, _ = _split(home, source)
    recent, base = key_conditions(bound)
    postgres = os.environ.get("MANIFOLD_DATABASE_URL") is not None
    with source_sql(home, *source) as conn:
        if postgres:
            conn.execute("SET enable_seqscan = off")
        for condition, index in ((recent, "record_rows_recent_key"), (base, "record_rows_key")):
            query = f"SELECT max(id) FROM record_rows WHERE key = '7' AND {condition}"
            explain = "EXPLAIN " if postgres else "EXPLAIN QUERY PLAN "
            plan = " ".join(str(row[-1]) for row in conn.execute(explain + query).fetchall())
            assert index in plan, plan


def test_the_row_id_range_is_read_from_the_primary_key_not_every_row(
    manager: SeparatedDatabaseManager, source: tuple[str, str], home: Path
) -> None:
    """Every snapshot import and every fold reads the lowest and highest row ids; read as one
    query with both aggregates, SQLite scanned the whole table for them (PostgreSQL answers
    either form from the primary key: its half checks only that it still does)."""
    manager.import_data(*source, [{"id": i} for i in range(BASE)])
    postgres = os.environ.get("MANIFOLD_DATABASE_URL") is not None
    with source_sql(home, *source) as conn:
        assert tuple(conn.execute(ROW_ID_RANGE).fetchone()) == (1, BASE)
        if postgres:
            conn.execute("SET enable_seqscan = off")
        explain = "EXPLAIN " if postgres else "EXPLAIN QUERY PLAN "
        plan = [str(row[-1]) for row in conn.execute(explain + ROW_ID_RANGE).fetchall()]
    assert not [step for step in plan if "SCAN record_rows" in step or "Seq Scan" in step], plan


def test_a_diff_reads_the_rows_a_version_added_through_the_first_version_index(
    manager: SeparatedDatabaseManager, source: tuple[str, str], home: Path
) -> None:
    """The index leaves the first version's rows out, so a first import builds it empty; the
    diff's query of the rows a version added must still match its condition, or it would
    read every row. Between versions 2 and 3 only the query's own `first_version > 1` says
    so (SQLite reads `first_version > 2` as no match for the index's condition)."""
    for extra in (0, 5, 8):
        manager.import_data(*source, [{"id": i} for i in range(BASE + extra)])
    assert manager.get_data_diff(*source, 2, 3).details.added == [
        {"id": i} for i in range(BASE + 5, BASE + 8)
    ]
    postgres = os.environ.get("MANIFOLD_DATABASE_URL") is not None
    query = _ROWS_ONLY_AT_HIGH.replace(":lo", "2").replace(":hi", "3")
    with source_sql(home, *source) as conn:
        if postgres:
            conn.execute("SET enable_seqscan = off")
        explain = "EXPLAIN " if postgres else "EXPLAIN QUERY PLAN "
        plan = " ".join(str(row[-1]) for row in conn.execute(explain + query).fetchall())
        assert "record_history_first_version" in plan, plan
        definition = (
            "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND indexname"
            if postgres
            else "SELECT sql FROM sqlite_schema WHERE name"
        )
        (text,) = conn.execute(f"{definition} = 'record_history_first_version'").fetchone()
        assert text.endswith("WHERE (first_version > 1)" if postgres else "first_version > 1")
