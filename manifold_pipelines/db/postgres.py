"""The PostgreSQL engine: PostgresDatabase, a Database over one schema of one database.

Each store is a schema: the catalogue's, or one per source, so that sources never share a
table, a lock or a vacuum. A connection's `search_path` is its schema, so the statements
written once for both engines name tables without a schema. Writers to one store queue on a
transaction-scoped advisory lock keyed by the schema's name, as writers to one SQLite file
queue on `BEGIN IMMEDIATE`; readers never wait (MVCC).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import orjson
import psycopg
from psycopg import sql

from manifold_pipelines.db.database import Database, ListKind, NumberedJson, Params, Rows
from manifold_pipelines.db.postgres_placeholders import translate
from manifold_pipelines.db.postgres_urls import redact, redact_url
from manifold_pipelines.errors import ConstraintError, DatabaseError, StorageError

CONNECT_TIMEOUT_SECONDS = 10
LOCK_TIMEOUT = "30s"
"""How long a writer waits for another writer of the same store, as SQLite's busy timeout."""
JSON_FETCH_ROWS = 8192
"""Rows `numbered_json` takes from libpq at a time: a million rows received at once sit
whole in libpq's buffers beside their parsed values (0.5 GB more at the peak, 1.6 times the
page faults)."""

_ARRAY_TYPES = {"int": "bigint[]", "text": "text[]"}
_LOCK_KEY = "hashtextextended(%s, 0)"
"""A store's advisory lock key, from its schema's name: the same whether a transaction or a
session holds it, so the two kinds queue on each other."""


def connect(url: str, *, what: str) -> psycopg.Connection[Any]:
    """An autocommit connection; an unreachable server or a refused login is a StorageError
    that names the server (without the password) and what to check."""
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS)
    except psycopg.Error as exc:
        raise StorageError(
            f"Cannot connect to the PostgreSQL database for the {what} at {redact_url(url)}:"
            f" {redact(str(exc).strip(), url)}. Check that the server runs, the URL"
            " (MANIFOLD_DATABASE_URL or --database-url) and the user's password and rights."
        ) from None


class PostgresDatabase(Database):
    """One schema in a PostgreSQL database, through its own connection."""

    engine = "postgresql"

    def __init__(self, url: str, schema: str, *, what: str, create: bool = True) -> None:
        super().__init__(what)
        self.url = url
        self.schema = schema
        self.conn = connect(url, what=what)
        try:
            self.conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
            self.conn.execute(sql.SQL("SET lock_timeout = {}").format(sql.Literal(LOCK_TIMEOUT)))
            if create and not self.schema_exists():
                self.create_schema()
        except psycopg.Error as exc:
            self.conn.close()
            raise DatabaseError(f"{what}: {exc}") from exc

    def create_schema(self) -> None:
        """Under the store's write lock: two processes opening a new source at once must not
        both create its schema. Only when it is missing, since an import holds that lock
        throughout and a reader must not wait for it."""
        with self.conn.transaction():
            self._lock()
            self.conn.execute(
                sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema))
            )

    def schema_exists(self) -> bool:
        query = "SELECT 1 FROM pg_namespace WHERE nspname = %s"
        return self.conn.execute(query, (self.schema,)).fetchone() is not None

    def drop_schema(self) -> None:
        """Drop the schema and everything in it: its space comes back at once, which a
        DELETE would only give after a vacuum. Under the store's write lock, so that an import
        still running into it finishes first."""
        try:
            with self.conn.transaction():
                self._lock()
                self.conn.execute(
                    sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(self.schema))
                )
        except psycopg.Error as exc:
            raise self._fail(exc) from exc

    def _lock(self) -> None:
        self.conn.execute(f"SELECT pg_advisory_xact_lock({_LOCK_KEY})", (self.schema,))

    def _fail(self, exc: psycopg.Error) -> DatabaseError:
        if isinstance(exc, psycopg.errors.IntegrityError):
            return ConstraintError(f"{self.what}: {exc}")
        if isinstance(exc, psycopg.errors.LockNotAvailable):
            return DatabaseError(
                f"The {self.what} stayed locked by another writer for {LOCK_TIMEOUT} ({exc})."
                " Wait for the other import to finish and try again."
            )
        if isinstance(exc, psycopg.errors.UndefinedTable | psycopg.errors.UndefinedColumn):
            return DatabaseError(
                f"The {self.what} is damaged ({exc.diag.message_primary}): a table Manifold"
                " made is missing or was changed by hand. Restore the schema from a pg_dump, or"
                f" move it aside (ALTER SCHEMA {self.schema} RENAME TO ...)."
            )
        return DatabaseError(f"{self.what}: {exc}")

    def execute(self, sql_text: str, params: Params = ()) -> Rows:
        try:
            return self.conn.execute(translate(sql_text), params or None)
        except psycopg.Error as exc:
            raise self._fail(exc) from exc

    def executemany(self, sql_text: str, rows: Iterable[Params]) -> None:
        try:
            with self.conn.cursor() as cursor:
                cursor.executemany(translate(sql_text), rows)
        except psycopg.Error as exc:
            raise self._fail(exc) from exc

    def insert_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """COPY: a bulk load in one round trip, far faster than INSERTs over a socket."""
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
        )
        try:
            with self.conn.cursor() as cursor, cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row(row)
        except psycopg.Error as exc:
            raise self._fail(exc) from exc

    def insert_columns(
        self, table: str, columns: Sequence[str], values: Sequence[Sequence[Any]]
    ) -> None:
        if len(values) != len(columns):
            raise ValueError(f"{len(columns)} columns of one length are needed for {table}")
        self.insert_rows(table, columns, list(zip(*values, strict=True)))

    def update_by_id(self, table: str, column: str, pairs: Sequence[tuple[int, int]]) -> None:
        values, ids = zip(*pairs, strict=True) if pairs else ((), ())
        statement = sql.SQL(
            "UPDATE {table} SET {column} = v.value FROM unnest(%s::bigint[], %s::bigint[])"
            " AS v(value, id) WHERE {table}.id = v.id"
        ).format(table=sql.Identifier(table), column=sql.Identifier(column))
        try:
            self.conn.execute(statement, (list(values), list(ids)))
        except psycopg.Error as exc:
            raise self._fail(exc) from exc

    def after_bulk_ids(self, table: str) -> None:
        """Move the identity's sequence up to the largest id, never down: a sequence that
        already handed out larger ids (of rows since deleted) must not hand them out again."""
        qualified = sql.Identifier(self.schema, table).as_string(self.conn)
        row = self.execute("SELECT pg_get_serial_sequence(?, 'id')", (qualified,)).fetchone()
        if row is None or row[0] is None:
            return
        statement = sql.SQL(
            "SELECT setval(CAST(%(seq)s AS regclass), max(id)) FROM {} HAVING max(id)"
            " > coalesce(pg_sequence_last_value(CAST(%(seq)s AS regclass)), 0)"
        ).format(sql.Identifier(table))
        try:
            self.conn.execute(statement, {"seq": row[0]})
        except psycopg.Error as exc:
            raise self._fail(exc) from exc

    def numbered_json(
        self, select: str, params: Mapping[str, Any], ended: str | None = None
    ) -> NumberedJson:
        """One query whose rows libpq hands over a chunk at a time (libpq 17 and later; older
        ones get them all at once), each text parsed as it arrives; ended rows are left out
        by an anti-join. A server-side cursor (DECLARE, FETCH) cost the server 0.3 s more CPU
        at a million rows, and joining the texts on the server, as SQLite does, twice its
        CPU: psycopg makes each row in C."""
        leaving_out = f" WHERE {self.not_an_id_of('numbered.id', f'({ended})')}" if ended else ""
        statement = translate(
            f"WITH numbered(id, number, json) AS ({select}) SELECT number, json FROM numbered"
            + leaving_out
        )
        read = NumberedJson([], [], [])
        numbers, values, loads = read.numbers, read.values, orjson.loads
        bad: orjson.JSONDecodeError | None = None
        try:
            with self.conn.cursor() as cursor:
                rows = (
                    cursor.stream(statement, params, size=JSON_FETCH_ROWS)
                    if psycopg.capabilities.has_stream_chunked()
                    else cursor.execute(statement, params)
                )
                for number, text in rows:
                    numbers.append(number)
                    try:
                        values.append(loads(text))
                    except orjson.JSONDecodeError as exc:
                        bad = exc
                        break
                for _ in rows:  # a stream left part way would hold the connection forever
                    pass
        except psycopg.Error as exc:
            raise self._fail(exc) from exc
        if bad is not None:
            raise self.damaged(f"a stored text is not JSON: {bad}") from bad
        return read

    def columns(self, table: str) -> tuple[str, ...]:
        rows = self.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = ?"
            " AND table_name = ? ORDER BY ordinal_position",
            (self.schema, table),
        )
        return tuple(row[0] for row in rows)

    def place(self) -> str:
        """The server by its port and start time (the same through any host name or socket
        that reaches it), the database and the schema."""
        row = self.execute(
            "SELECT current_setting('port'), pg_postmaster_start_time(), current_database()"
        ).fetchone()
        return (
            f"PostgreSQL server on port {row[0]} started {row[1]}, database {row[2]},"
            f" schema {self.schema}"
        )

    def in_list(self, column: str, kind: ListKind, param: str = "?") -> str:
        return f"{column} = ANY(CAST({param} AS {_ARRAY_TYPES[kind]}))"

    def not_an_id_of(self, column: str, table: str) -> str:
        # An anti-join: NOT IN could not be one (its NULL semantics), and would hash the table.
        return f"NOT EXISTS (SELECT 1 FROM {table} x WHERE x.id = {column})"

    def concatenated(self, blob: str, integers: Sequence[str]) -> list[str]:
        return [f"string_agg({blob}, ''::bytea)"] + [
            f"string_agg(CAST({integer} AS text), ',')" for integer in integers
        ]

    def newest_per_value(
        self, kind: ListKind, table: str, column: str, conditions: Sequence[str]
    ) -> str:
        # Without LATERAL the planner hashes the whole table to join on a subquery's max(id).
        # An Append runs its branches in order and the outer LIMIT stops it at the first row.
        newest = " UNION ALL ".join(
            f"(SELECT * FROM {table} WHERE {column} = k.value AND {condition}"
            " ORDER BY id DESC LIMIT 1)"
            for condition in conditions
        )
        if len(conditions) > 1:
            newest = f"({newest} LIMIT 1)"
        return (
            f"unnest(CAST(:values AS {_ARRAY_TYPES[kind]})) AS k(value) CROSS JOIN LATERAL"
            f" {newest} AS r"
        )

    def rebuild_indexes(self, indexes: Mapping[str, str]) -> None:
        # DROP INDEX locks the table against readers until the commit, and CREATE INDEX only
        # against writers: so build under new names first, then drop and rename, which leaves
        # readers waiting only for the moment between the drops and the commit.
        for name, target in indexes.items():
            self.execute(f"CREATE INDEX {name}_next ON {target}")
        for name in indexes:
            self.execute(f"DROP INDEX {name}")
            self.execute(f"ALTER INDEX {name}_next RENAME TO {name}")

    def list_param(self, values: Sequence[Any]) -> Any:
        return list(values)

    @contextmanager
    def writing(self, *, commit: bool = True) -> Iterator[Database]:
        self._begin("BEGIN")
        try:
            self._lock()
        except psycopg.Error as exc:
            self._end("ROLLBACK")
            raise self._fail(exc) from exc
        try:
            yield self
        except BaseException:
            self._end("ROLLBACK")
            raise
        if not commit:
            self._end("ROLLBACK")
            return
        try:
            self.conn.execute("COMMIT")
        except psycopg.Error as exc:
            self._end("ROLLBACK")
            raise StorageError(f"Could not commit to the {self.what}: {exc}.") from exc

    @contextmanager
    def reading(self) -> Iterator[Database]:
        self._begin("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            yield self
        finally:
            self._end("COMMIT")

    def _begin(self, statement: str) -> None:
        try:
            self.conn.execute(statement)
        except psycopg.Error as exc:
            raise self._fail(exc) from exc

    def _end(self, statement: str) -> None:
        """End the transaction whatever state it is in; a broken connection ends it anyway."""
        if self.conn.closed:
            return
        try:
            self.conn.execute(statement)
        except psycopg.Error:
            self.conn.close()

    @property
    def in_transaction(self) -> bool:
        return bool(self.conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE)

    def size(self) -> int:
        """The main fork of every table of the schema, of its TOAST table and of their indexes.
        The free-space and visibility maps are left out: autovacuum creates them whenever it
        visits, so counting them made a source's size grow between two readings with no write
        in between, and the figure in a materialization disagree with `manifold stats`."""
        row = self.conn.execute(
            "WITH tables AS (SELECT c.oid, c.reltoastrelid FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND c.relkind = 'r'),"
            " heaps AS (SELECT oid FROM tables"
            " UNION ALL SELECT reltoastrelid FROM tables WHERE reltoastrelid <> 0),"
            " relations AS (SELECT oid FROM heaps"
            " UNION ALL SELECT indexrelid FROM pg_index WHERE indrelid IN (SELECT oid FROM heaps))"
            " SELECT coalesce(sum(pg_relation_size(oid, 'main')), 0) FROM relations",
            (self.schema,),
        ).fetchone()
        return int(row[0]) if row else 0

    def reclaim_space(self) -> None:
        """VACUUM FULL of the schema's tables: a DELETE, even vacuumed, leaves a table its
        size, and retention promises the space back as SQLite's incremental vacuum gives it.
        The rewrite makes this store's readers wait while it runs (about a second per 200 MB).
        VACUUM cannot run in a transaction, so the store's write lock is taken for the session:
        it queues behind an import as another import would. Should a reader hold a table past
        the lock timeout, the space stays in the tables, reused by the next imports, and the
        next cleanup hands it back."""
        tables = [
            sql.Identifier(self.schema, name)
            for (name,) in self.conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = %s", (self.schema,)
            )
        ]
        if not tables:
            return
        try:
            self.conn.execute(f"SELECT pg_advisory_lock({_LOCK_KEY})", (self.schema,))
        except psycopg.Error as exc:
            raise self._fail(exc) from exc
        try:
            self.conn.execute(sql.SQL("VACUUM (FULL) {}").format(sql.SQL(", ").join(tables)))
        except psycopg.errors.LockNotAvailable:
            return
        except psycopg.Error as exc:
            raise self._fail(exc) from exc
        finally:
            self.conn.execute(f"SELECT pg_advisory_unlock({_LOCK_KEY})", (self.schema,))

    def integrity_check(self) -> str:
        return "ok"

    def read_format(self) -> tuple[int, int, bool]:
        tables = {
            name
            for (name,) in self.conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = %s", (self.schema,)
            )
        }
        if "manifold_format" not in tables:
            return 0, 0, bool(tables)
        row = self.conn.execute("SELECT application_id, version FROM manifold_format").fetchone()
        return (int(row[0]), int(row[1]), True) if row else (0, 0, True)

    def record_format(self, application_id: int, version: int) -> None:
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS manifold_format (application_id BIGINT NOT NULL,"
            " version INTEGER NOT NULL, updated_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        self.conn.execute("DELETE FROM manifold_format")
        self.conn.execute(
            "INSERT INTO manifold_format (application_id, version) VALUES (%s, %s)",
            (application_id, version),
        )

    def close(self) -> None:
        self.conn.close()
