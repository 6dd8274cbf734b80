"""Database: one connection to one engine, the only place that knows which engine it is.

The SQL above this layer is written once, for both engines: `?` and `:name` parameters,
`ON CONFLICT`, `RETURNING`, and `CAST(? AS TEXT)` wherever a parameter may be NULL. Each
engine supplies what cannot be said the same way in both: transactions and their locks, a
read snapshot, bulk loading, a list of values as one parameter, the space a store takes, and
how a store's format version is recorded.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from itertools import repeat
from typing import Any, Literal, NamedTuple, Protocol

from manifold_pipelines.errors import StorageError

Params = Sequence[Any] | Mapping[str, Any]
ListKind = Literal["int", "text"]


class NumberedJson(NamedTuple):
    """What `Database.numbered_json` read: rows' numbers and parsed JSON, in one row order."""

    numbers: list[int]
    values: list[Any]
    left_out: list[int]
    """Indices, ascending, of rows handed over that the caller must skip (see numbered_json)."""


class Same(Sequence[Any]):
    """A column of `length` values that are all `value` (see Database.insert_columns)."""

    def __init__(self, value: Any, length: int) -> None:
        self.value, self.length = value, length

    def __len__(self) -> int:
        return self.length

    def __iter__(self) -> Iterator[Any]:
        """C-level: PostgreSQL zips the columns, and Sequence's own __iter__ makes a Python
        call a row (0.25 s more a million rows)."""
        return repeat(self.value, self.length)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return Same(self.value, len(range(self.length)[index]))
        range(self.length)[index]  # an IndexError past the end, as a list's
        return self.value


class Rows(Protocol):
    """What a query returns, the part both drivers' cursors share."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Database(ABC):
    """A connection in autocommit mode that writes only inside `writing()`.

    `what` names the store in errors ("core.db", "data of 'demo/api'").
    """

    engine: str

    def __init__(self, what: str) -> None:
        self.what = what

    def damaged(self, detail: str) -> StorageError:
        """The error for stored rows that do not read back as they were written."""
        return StorageError(
            f"The {self.what} does not read back whole ({detail}): it is damaged. Nothing was"
            " changed; restore it from a backup."
        )

    @abstractmethod
    def execute(self, sql: str, params: Params = ()) -> Rows: ...

    @abstractmethod
    def executemany(self, sql: str, rows: Iterable[Params]) -> None: ...

    @abstractmethod
    def insert_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """Append many rows at once, the fastest way the engine has."""

    @abstractmethod
    def insert_columns(
        self, table: str, columns: Sequence[str], values: Sequence[Sequence[Any]]
    ) -> None:
        """Append rows given a column at a time: `values[i]` is column i of every row, all of
        one length. Rows built by C-level calls come as columns; a tuple a row would be made
        only to be taken apart again. A column that is a `range` (row ids, positions) or
        `Same` (a version) may be computed by the engine instead of sent a value a row."""

    @abstractmethod
    def update_by_id(self, table: str, column: str, pairs: Sequence[tuple[int, int]]) -> None:
        """Set the integer `column` of many rows at once, from (value, id) pairs."""

    @abstractmethod
    def after_bulk_ids(self, table: str) -> None:
        """Rows were written into `table` with their ids given (a transfer keeps them): make
        the ids the engine hands out next follow the largest, or the next insert collides."""

    @abstractmethod
    def numbered_json(
        self, select: str, params: Mapping[str, Any], ended: str | None = None
    ) -> NumberedJson:
        """Read many JSON texts at once, the fastest way the engine has. `select` (with
        `:name` parameters) yields (id, number, JSON text) rows, ids unique integers; the
        answer is their numbers and their JSON parsed, two lists in the same row order, which
        is the engine's: sort by number for a defined one. `ended`, a query of one column
        `id` (with the same parameters), names rows of `select` to leave out: the engine
        leaves them out, or hands them over and names them in `left_out`, where that costs
        less than testing each row. Call it inside `reading()` or `writing()`: the rows may
        come in several queries, which must see one state."""

    @abstractmethod
    def columns(self, table: str) -> tuple[str, ...]:
        """The names of the table's columns, in their order."""

    @abstractmethod
    def place(self) -> str:
        """Where the store is, the same text through every connection to it, however it was
        named (a relative path, another host name for the same server)."""

    @abstractmethod
    def in_list(self, column: str, kind: ListKind, param: str = "?") -> str:
        """A condition "column is one of the list given as parameter `param`" (`?` or
        `:name`), whose value is `list_param(values)`."""

    @abstractmethod
    def not_an_id_of(self, column: str, table: str) -> str:
        """A condition "`column` is no id of `table`", a table whose `id` is its integer
        primary key (the live rows are those no row of `record_ends` names) or a query of
        `id` in parentheses."""

    @abstractmethod
    def concatenated(self, blob: str, integers: Sequence[str]) -> list[str]:
        """Aggregate expressions over a query's rows, all in one row order: the BLOB `blob`
        joined end to end, then each of `integers` as comma-separated decimal text (NULL
        over no rows). One value each instead of a Python tuple per row."""

    @abstractmethod
    def newest_per_value(
        self, kind: ListKind, table: str, column: str, conditions: Sequence[str]
    ) -> str:
        """A FROM clause: for each value of the list parameter `:values` (`list_param`), the
        newest row (greatest id) of `table` whose `column` is that value and that meets the
        first of `conditions` any such row meets, as `r`: one index descent per value and
        condition tried, where a (partial) index on (column, id) exists. The conditions are
        for ranges of ids, newest first. PostgreSQL needs LATERAL for that; SQLite joins on
        a correlated max(id)."""

    @abstractmethod
    def rebuild_indexes(self, indexes: Mapping[str, str]) -> None:
        """Replace the named indexes with new definitions (name -> what it indexes), in the
        caller's transaction, keeping each name: readers of the store must not wait while
        the new ones are built."""

    @abstractmethod
    def list_param(self, values: Sequence[Any]) -> Any:
        """The parameter value for an `in_list` condition."""

    @abstractmethod
    def writing(self, *, commit: bool = True) -> AbstractContextManager[Database]:
        """A write transaction that holds the store's write lock from its first statement, so
        that a read-then-write never fails half way; rolled back on any error, or at the end
        when `commit` is False (a dry run computes everything and keeps nothing)."""

    @abstractmethod
    def reading(self) -> AbstractContextManager[Database]:
        """A read snapshot: every query inside sees the same committed state."""

    @property
    @abstractmethod
    def in_transaction(self) -> bool: ...

    @abstractmethod
    def size(self) -> int:
        """Bytes the store takes, counted the same way at every call."""

    @abstractmethod
    def reclaim_space(self) -> None:
        """Hand space freed by deletes back, outside any transaction."""

    @abstractmethod
    def integrity_check(self) -> str:
        """ "ok", or what the engine found wrong."""

    @abstractmethod
    def read_format(self) -> tuple[int, int, bool]:
        """(application id, format version, whether it holds any table): what kind of
        Manifold store this is, at which format; all zero for a new, empty one."""

    @abstractmethod
    def record_format(self, application_id: int, version: int) -> None:
        """Record the kind and format inside the current write transaction, so that a
        migration and the record that it ran commit together or not at all."""

    @abstractmethod
    def close(self) -> None: ...
