"""Reading a table a batch of rows at a time in id order, and turning a row into the same bytes
whichever engine it was read from: what the catalogue copy and the source copies share.

Batches are read by id range (keyset), not by one long cursor: PostgreSQL's driver would hold
a whole table's rows in memory, and integers sort the same way on both engines.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import orjson

from manifold_pipelines.db.database import Database
from manifold_pipelines.errors import StorageError

BATCH_ROWS = 5_000
"""Rows read and written at a time: a million record rows is 200 COPYs, and a batch of large
records still fits in memory."""

Row = tuple[Any, ...]


def same_columns(origin: Database, there: Database, table: str) -> tuple[str, ...]:
    """The table's columns, which must be the same on both sides: both stores were migrated to
    the latest format when opened, and the formats of both engines have the same columns."""
    columns, theirs = origin.columns(table), there.columns(table)
    if set(columns) != set(theirs):
        raise StorageError(
            f"Table {table} has other columns in the {there.what} ({', '.join(theirs)}) than in"
            f" the {origin.what} ({', '.join(columns)}): the two are at formats that do not"
            " match. Use the same version of manifold-pipelines for both."
        )
    return columns


def id_batches(db: Database, table: str, columns: Sequence[str]) -> Iterator[list[Row]]:
    """Every row of a table keyed by an integer `id`, in id order, BATCH_ROWS at a time."""
    at = columns.index("id")
    select = f"SELECT {', '.join(columns)} FROM {table} WHERE id > ? ORDER BY id LIMIT {BATCH_ROWS}"  # noqa: S608 (names of our own tables and columns)
    after = 0
    while True:
        rows = [tuple(row) for row in db.execute(select, (after,)).fetchall()]
        if not rows:
            return
        yield rows
        after = rows[-1][at]


def rows_between(
    db: Database, table: str, columns: Sequence[str], after: int, last: int
) -> dict[int, Row]:
    """The rows whose id is in (after, last], by id."""
    at = columns.index("id")
    rows = db.execute(
        f"SELECT {', '.join(columns)} FROM {table} WHERE id > ? AND id <= ?",  # noqa: S608 (names of our own tables and columns)
        (after, last),
    )
    return {row[at]: tuple(row) for row in rows}


def _bytes_as_hex(value: Any) -> str:
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    raise TypeError(f"{type(value).__name__} is not a column value")


def row_bytes(row: Row) -> bytes:
    """A row as bytes to hash: the same for the same values read from either engine."""
    return orjson.dumps(row, default=_bytes_as_hex)
