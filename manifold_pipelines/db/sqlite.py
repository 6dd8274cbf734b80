"""The SQLite engine: opening files the one way that survives kills and concurrent writers,
and SqliteDatabase, a Database over one file.

Measured with kill -9 trials (100 per variant): autocommit connections that write
only inside `BEGIN IMMEDIATE`, WAL, and a busy timeout give whole-or-nothing imports under
`kill -9` and serialise two writers instead of failing one with "database is locked".
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from itertools import chain
from pathlib import Path
from typing import Any

import orjson

from manifold_pipelines.db.database import Database, ListKind, NumberedJson, Params, Rows, Same
from manifold_pipelines.db.sqlite_windows import read_in_windows
from manifold_pipelines.errors import ConstraintError, DatabaseError, StorageError

BUSY_TIMEOUT_SECONDS = 30.0
PAGE_SIZE = 8192
"""A new file's page size: 8 KiB bulk-inserted ~8% faster than SQLite's 4 KiB."""
DATA_PAGE_SIZE = 32768
"""A new data file's page size. A data file holds rows of records, often millions, and fewer,
larger pages cost SQLite less per row: a first import of a million records took 0.23 s less
CPU (4.14 s -> 3.91 s; 64 KiB pages 3.82 s), reads 5% less, an incremental import the same.
The price is in small files: an empty data file has 21 pages (672 KB; 216 KB with 8 KiB
pages, 1.3 MB with 64 KiB), and an import of 100 records took 6.0 ms instead of 5.0 ms.
core.db is small and written in small transactions, so it keeps PAGE_SIZE."""
PAGE_CACHE_MIB = 32
"""Pages a connection keeps, instead of SQLite's 2 MiB: an import of a million records
re-read index pages from the OS on every insert (1.9 s of system time, now 1.0 s; 64 MiB
gained nothing more). An import holds this much on top of what it keeps of its records."""
ROWS_PER_INSERT = 500
"""Rows one INSERT statement writes, all its values bound at once. A million rows of a first
import took 0.8 s of CPU this way and 1.3 s by executemany, a step and a tuple a row; 500 to
5,000 rows a statement cost the same. SQLite binds at most 32,766 values a statement in its
default build, enough for 65 columns."""


@lru_cache(maxsize=16)
def _insert_statement(
    table: str, columns: tuple[str, ...], rows: int, steps: tuple[int | None, ...]
) -> str:
    """An INSERT of `rows` rows where column i, when `steps[i]` is not None, is computed from
    its first row's value, one parameter, as that value plus the row's offset times the
    step; the other columns take a parameter a row. The parameters are the computed
    columns' first values, then the rest row by row: the computed columns come first in
    each row, as ?1, ?2..., and the rest as plain `?`, which SQLite numbers on from there.
    Numbering those too (`?NNN`) made SQLite look each one's name up in a list of all of
    them to compile the statement: 11 ms for a statement of 500 rows of six values, 0.5 ms
    with plain `?`."""
    computed = [index for index, step in enumerate(steps) if step is not None]
    sent = [index for index, step in enumerate(steps) if step is None]
    tuples = []
    for row in range(rows):
        values = [
            f"?{number}+{row * step}" if row * step else f"?{number}"
            for number, step in enumerate((steps[index] or 0 for index in computed), 1)
        ]
        tuples.append(f"({', '.join(values + ['?'] * len(sent))})")
    names = ", ".join(columns[index] for index in computed + sent)
    return f"INSERT INTO {table} ({names}) VALUES {', '.join(tuples)}"


def _step(column: Sequence[Any]) -> int | None:
    """How a column of insert_columns goes from row to row when SQLite can compute it: a
    range by its step, a Same not at all; None for a column sent a value a row. Binding a
    value costs more than SQLite's addition: a million rows took 0.79-0.87 s to insert with
    ids, positions and version computed, 0.86-0.98 s with them bound. A range past 64 bits is
    bound too, so that Python refuses it: SQLite would carry the sum on as a float."""
    if isinstance(column, range):
        inside = not column or max(-column[0], -column[-1], column[0], column[-1]) < 2**63
        return column.step if inside else None
    return 0 if isinstance(column, Same) else None


def connect(
    path: Path, *, what: str, create: bool = True, page_size: int = PAGE_SIZE
) -> sqlite3.Connection:
    """Open `path` in autocommit mode with WAL and foreign keys on.

    `what` names the file in errors ("core.db", "data file of 'demo/api'"). A fresh file gets
    `page_size` pages and incremental auto-vacuum, both of which must be chosen before its
    first table exists (so that retention can hand pages back to the file system without a
    full VACUUM); a file that exists keeps its own.
    """
    if not create and not path.exists():
        raise StorageError(f"The {what} does not exist at {str(path)!r}.")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False
        )
        if conn.execute("PRAGMA page_count").fetchone()[0] == 0:
            conn.execute(f"PRAGMA page_size = {int(page_size)}")
            conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute(f"PRAGMA cache_size = -{PAGE_CACHE_MIB * 1024}")
    except sqlite3.DatabaseError as exc:
        raise StorageError(
            f"The {what} at {str(path)!r} cannot be opened: {exc}. It is damaged or not a SQLite"
            " file; restore it from a backup or move it aside."
        ) from exc
    return conn


def database_size(conn: sqlite3.Connection) -> int:
    """The database's size in bytes as SQLite counts it: its pages times the page size.

    This is the one definition of a file's size. Committed pages still in the write-ahead
    log are counted, so the figure does not depend on when the last checkpoint ran; it is the
    main file's size once checkpointed (as `ls` shows it after the last connection closes).
    Bytes on disk (file plus -wal) would count a log that is reused, not shrunk, and that
    SQLite folds back into the file whenever it likes: the same data would have many sizes.
    """
    page_count: int = conn.execute("PRAGMA page_count").fetchone()[0]
    page_size: int = conn.execute("PRAGMA page_size").fetchone()[0]
    return page_count * page_size


@contextmanager
def transaction(
    conn: sqlite3.Connection, *, what: str, commit: bool = True
) -> Iterator[sqlite3.Connection]:
    """Run the body inside `BEGIN IMMEDIATE ... COMMIT`, rolling back on any error, or at
    the end when `commit` is False (a dry run that computes everything and keeps nothing).

    IMMEDIATE takes the write lock up front: a deferred transaction that reads and then
    writes fails at once with "database is locked" whatever the busy timeout.
    """
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        raise StorageError(
            f"The {what} stayed locked by another writer for {BUSY_TIMEOUT_SECONDS:.0f} s ({exc})."
            " Wait for the other import to finish and try again."
        ) from exc
    try:
        yield conn
    except BaseException:
        # SQLite may have rolled back already (disk full, I/O error): keep the real error.
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    else:
        if not commit:
            conn.execute("ROLLBACK")
            return
        try:
            conn.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            conn.execute("ROLLBACK")
            raise StorageError(f"Could not commit to the {what}: {exc}.") from exc


def copy_database(path: Path, target: Path) -> None:
    """A consistent copy through SQLite's backup API, committed WAL pages included: a file
    copy of a WAL database can miss committed pages still in the -wal file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(path)
    destination = sqlite3.connect(target)
    try:
        source.backup(destination)
    finally:
        destination.close()
        source.close()


class SqliteDatabase(Database):
    """One SQLite file. Driver errors surface as DatabaseError (ConstraintError for a broken
    UNIQUE or foreign key), so nothing above needs to know the driver."""

    engine = "sqlite"

    def __init__(
        self, path: Path, *, what: str, create: bool = True, page_size: int = PAGE_SIZE
    ) -> None:
        super().__init__(what)
        self.path = path
        self.conn = connect(path, what=what, create=create, page_size=page_size)

    def execute(self, sql: str, params: Params = ()) -> Rows:
        try:
            return self.conn.execute(sql, params)
        except sqlite3.IntegrityError as exc:
            raise ConstraintError(f"{self.what}: {exc}") from exc
        except sqlite3.Error as exc:
            raise DatabaseError(f"{self.what}: {exc}") from exc

    def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        try:
            self.conn.executemany(sql, rows)
        except sqlite3.IntegrityError as exc:
            raise ConstraintError(f"{self.what}: {exc}") from exc
        except sqlite3.Error as exc:
            raise DatabaseError(f"{self.what}: {exc}") from exc

    def insert_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        width = len(columns)
        for start in range(0, len(rows), ROWS_PER_INSERT):
            part = rows[start : start + ROWS_PER_INSERT]
            if set(map(len, part)) != {width}:
                raise ValueError(f"rows for {table} must each hold {width} values")
            self._insert(table, columns, list(chain.from_iterable(part)))

    def insert_columns(
        self, table: str, columns: Sequence[str], values: Sequence[Sequence[Any]]
    ) -> None:
        width, rows = len(columns), len(values[0])
        if len(values) != width or any(len(column) != rows for column in values):
            raise ValueError(f"{width} columns of one length are needed for {table}")
        steps = tuple(_step(column) for column in values)
        sent = [column for column, step in zip(values, steps, strict=True) if step is None]
        for start in range(0, rows, ROWS_PER_INSERT):
            count = min(ROWS_PER_INSERT, rows - start)
            flat: list[Any] = [None] * (len(sent) * count)
            for offset, column in enumerate(sent):
                flat[offset :: len(sent)] = column[start : start + count]
            firsts = [
                column[start]
                for column, step in zip(values, steps, strict=True)
                if step is not None
            ]
            statement = _insert_statement(table, tuple(columns), count, steps)
            self.execute(statement, firsts + flat)

    def _insert(self, table: str, columns: Sequence[str], flat: list[Any]) -> None:
        """One statement for rows whose values `flat` holds one row after another, a
        statement's worth at a time (a list of a whole batch's values came from the kernel
        and went back to it each time: 17,000 more page faults a million rows)."""
        rows = len(flat) // len(columns)
        self.execute(_insert_statement(table, tuple(columns), rows, (None,) * len(columns)), flat)

    def update_by_id(self, table: str, column: str, pairs: Sequence[tuple[int, int]]) -> None:
        self.executemany(f"UPDATE {table} SET {column} = ? WHERE id = ?", pairs)

    def after_bulk_ids(self, table: str) -> None:
        """An INTEGER PRIMARY KEY already continues after the largest id."""

    def numbered_json(
        self, select: str, params: Mapping[str, Any], ended: str | None = None
    ) -> NumberedJson:
        return read_in_windows(self, select, params, ended)

    def columns(self, table: str) -> tuple[str, ...]:
        return tuple(row[1] for row in self.execute("SELECT * FROM pragma_table_info(?)", (table,)))

    def place(self) -> str:
        return f"SQLite file {self.path.resolve()}"

    def in_list(self, column: str, kind: ListKind, param: str = "?") -> str:
        return f"{column} IN (SELECT value FROM json_each({param}))"

    def not_an_id_of(self, column: str, table: str) -> str:
        # SQLite probes the table's rowid b-tree for the IN operator: a million probes take
        # 0.1 s less than as many runs of a correlated NOT EXISTS subquery.
        return f"{column} NOT IN (SELECT id FROM {table})"

    def concatenated(self, blob: str, integers: Sequence[str]) -> list[str]:
        # group_concat appends a BLOB's bytes as they are, NUL bytes included; its result is
        # TEXT, and the cast keeps the bytes.
        return [f"CAST(group_concat({blob}, '') AS BLOB)"] + [
            f"group_concat({integer})" for integer in integers
        ]

    def newest_per_value(
        self, kind: ListKind, table: str, column: str, conditions: Sequence[str]
    ) -> str:
        newest = ", ".join(
            f"(SELECT max(id) FROM {table} WHERE {column} = k.value AND {condition})"
            for condition in conditions
        )
        if len(conditions) > 1:
            newest = f"coalesce({newest})"
        return f"json_each(:values) AS k JOIN {table} r ON r.id = {newest}"

    def rebuild_indexes(self, indexes: Mapping[str, str]) -> None:
        # Readers see the last commit's snapshot, old indexes included, whatever this does.
        for name, target in indexes.items():
            self.execute(f"DROP INDEX {name}")
            self.execute(f"CREATE INDEX {name} ON {target}")

    def list_param(self, values: Sequence[Any]) -> Any:
        return orjson.dumps(list(values)).decode()

    @contextmanager
    def writing(self, *, commit: bool = True) -> Iterator[Database]:
        try:
            with transaction(self.conn, what=self.what, commit=commit):
                yield self
        except sqlite3.Error as exc:
            raise DatabaseError(f"{self.what}: {exc}") from exc

    @contextmanager
    def reading(self) -> Iterator[Database]:
        """Released promptly: an open reader holds back WAL checkpoints."""
        self.conn.execute("BEGIN")
        try:
            yield self
        finally:
            self.conn.execute("COMMIT")

    @property
    def in_transaction(self) -> bool:
        return self.conn.in_transaction

    def size(self) -> int:
        return database_size(self.conn)

    def reclaim_space(self) -> None:
        self.conn.execute("PRAGMA incremental_vacuum")
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def integrity_check(self) -> str:
        return str(self.conn.execute("PRAGMA integrity_check").fetchone()[0])

    def read_format(self) -> tuple[int, int, bool]:
        application_id = int(self.conn.execute("PRAGMA application_id").fetchone()[0])
        version = int(self.conn.execute("PRAGMA user_version").fetchone()[0])
        has_tables = self.conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()[0] > 0
        return application_id, version, has_tables

    def record_format(self, application_id: int, version: int) -> None:
        self.conn.execute(f"PRAGMA user_version = {int(version)}")
        self.conn.execute(f"PRAGMA application_id = {int(application_id)}")

    def close(self) -> None:
        self.conn.close()
