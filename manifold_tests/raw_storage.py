"""What each engine stores, read and damaged by the engine's own means (sqlite3 on the files
under the home, psycopg on the schemas of MANIFOLD_DATABASE_URL), never through Manifold: a
test that checks a promise on both engines sees what is really there.

The engine is the test's: PostgreSQL when MANIFOLD_DATABASE_URL is set (the `engine` fixture
sets it), else SQLite files in the default layout under `home`.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, closing, contextmanager
from pathlib import Path
from typing import Any, Protocol

import orjson
import psycopg
from psycopg import sql

from manifold_pipelines.backends.postgres import source_schema
from manifold_pipelines.core.postgres_tables import CATALOGUE_SCHEMA
from manifold_pipelines.db.postgres_placeholders import translate
from manifold_pipelines.versions.archive import read_archive

INTEGRITY_ERRORS = (sqlite3.IntegrityError, psycopg.IntegrityError)
"""What either driver raises when a constraint of the store refuses a write."""


class Sql(Protocol):
    """A connection in autocommit mode; statements take `?` parameters on both engines."""

    def execute(self, statement: str, params: tuple[Any, ...] = ()) -> Any: ...


class _Postgres:
    """A psycopg connection that takes the `?` parameters a sqlite3 one does."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def execute(self, statement: str, params: tuple[Any, ...] = ()) -> Any:
        return self.conn.execute(translate(statement), params or None)


def _url() -> str | None:
    return os.environ.get("MANIFOLD_DATABASE_URL")


def _data_file(home: Path, project_id: str, source_id: str) -> Path:
    return home / "data-sources" / project_id / f"{source_id}.db"


@contextmanager
def _schema_sql(url: str, schema: str) -> Iterator[Sql]:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        yield _Postgres(conn)


@contextmanager
def _file_sql(path: Path) -> Iterator[Sql]:
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        yield conn


def catalogue_sql(home: Path) -> AbstractContextManager[Sql]:
    """SQL on the catalogue: core.db, or the schema `manifold`."""
    url = _url()
    return _file_sql(home / "core.db") if url is None else _schema_sql(url, CATALOGUE_SCHEMA)


def source_sql(home: Path, project_id: str, source_id: str) -> AbstractContextManager[Sql]:
    """SQL on a source's versions: its data file, or its own schema."""
    url = _url()
    if url is None:
        return _file_sql(_data_file(home, project_id, source_id))
    return _schema_sql(url, source_schema(project_id, source_id))


def source_data_exists(home: Path, project_id: str, source_id: str) -> bool:
    """Whether anything of the source's store is left: its file or a companion (-wal, -shm),
    or its schema."""
    url = _url()
    if url is None:
        path = _data_file(home, project_id, source_id)
        return any(path.parent.glob(path.name + "*"))
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT 1 FROM pg_namespace WHERE nspname = %s", (source_schema(project_id, source_id),)
        ).fetchone()
    return row is not None


def _stored_format(conn: Sql) -> tuple[int, int]:
    if _url() is None:
        return (
            conn.execute("PRAGMA application_id").fetchone()[0],
            conn.execute("PRAGMA user_version").fetchone()[0],
        )
    application_id, version = conn.execute(
        "SELECT application_id, version FROM manifold_format"
    ).fetchone()
    return application_id, version


def catalogue_format(home: Path) -> tuple[int, int]:
    """(application id, format version) the catalogue records about itself."""
    with catalogue_sql(home) as conn:
        return _stored_format(conn)


def source_format(home: Path, project_id: str, source_id: str) -> tuple[int, int]:
    """(application id, format version) a source's store records about itself."""
    with source_sql(home, project_id, source_id) as conn:
        return _stored_format(conn)


def source_tables(home: Path, project_id: str, source_id: str) -> set[str]:
    """The names of the tables in a source's data file, or in its schema."""
    with source_sql(home, project_id, source_id) as conn:
        if _url() is None:
            rows = conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")
        else:
            rows = conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            )
        return {name for (name,) in rows}


def row_indexes(home: Path, project_id: str, source_id: str) -> dict[str, tuple[str, ...]]:
    """The indexes of a source's `record_rows` (its primary key aside), by name, with the
    columns each holds."""
    with source_sql(home, project_id, source_id) as conn:
        if _url() is None:
            names = [row[1] for row in conn.execute("PRAGMA index_list(record_rows)")]
            return {
                name: tuple(row[2] for row in conn.execute(f"PRAGMA index_info({name})"))
                for name in names
            }
        rows = conn.execute(
            "SELECT i.relname, array_agg(a.attname ORDER BY k.ordinality) FROM pg_index x"
            " JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid"
            " CROSS JOIN unnest(x.indkey) WITH ORDINALITY AS k(attnum, ordinality)"
            " JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum"
            " WHERE t.relname = 'record_rows' AND NOT x.indisprimary"
            " AND t.relnamespace = current_schema()::regnamespace"
            " GROUP BY i.relname"
        )
        return {name: tuple(columns) for name, columns in rows}


def stored_state(home: Path, project_id: str, source_id: str) -> object:
    """All a source's store holds, to compare before and after: its data file's bytes, or
    every row of its schema's tables."""
    if _url() is None:
        return _data_file(home, project_id, source_id).read_bytes()
    tables = sorted(source_tables(home, project_id, source_id))
    with source_sql(home, project_id, source_id) as conn:
        return {
            table: sorted(conn.execute(f'SELECT * FROM "{table}"').fetchall(), key=repr)
            for table in tables
        }


def set_catalogue_version(home: Path, version: int) -> None:
    """Record another format version in the catalogue, as a newer Manifold would."""
    with catalogue_sql(home) as conn:
        if _url() is None:
            conn.execute(f"PRAGMA user_version = {int(version)}")
        else:
            conn.execute("UPDATE manifold_format SET version = ?", (version,))


def make_empty_catalogue(home: Path) -> None:
    """An empty core.db, or an empty schema `manifold`, as a tool or an administrator may
    create it before Manifold first runs."""
    url = _url()
    if url is None:
        sqlite3.connect(home / "core.db").close()
        return
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(CATALOGUE_SCHEMA)))


def make_foreign_catalogue(home: Path) -> None:
    """A catalogue that some other application made: a table of its own, no format record."""
    make_empty_catalogue(home)
    with catalogue_sql(home) as conn:
        conn.execute("CREATE TABLE mine (x INTEGER)")


def damage_source(home: Path, project_id: str, source_id: str) -> None:
    """Break a source's store the way it breaks in real life: a data file overwritten with
    garbage (no WAL left to replay), or a schema whose main table was dropped by hand."""
    if _url() is None:
        path = _data_file(home, project_id, source_id)
        path.write_bytes(b"garbage " * 4096)
        for suffix in ("-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
        return
    with source_sql(home, project_id, source_id) as conn:
        conn.execute("DROP TABLE data_versions CASCADE")


def archived_records(path: Path) -> list[dict[str, Any]]:
    """The latest records in an archive of a deleted source: a copy of its data file, or an
    archive file of every version (gzip'd JSON Lines)."""
    if path.suffix == ".db":
        with _file_sql(path) as conn:
            rows = conn.execute(
                "SELECT record FROM record_history WHERE last_version IS NULL ORDER BY position"
            ).fetchall()
        return [orjson.loads(record) for (record,) in rows]
    return read_archive(path)[-1].records
