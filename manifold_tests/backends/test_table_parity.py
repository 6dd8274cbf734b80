"""Both engines' DDL describe the same tables and columns: the SQL above the engines is
written once for both, and a transfer copies rows column by column. Each engine keeps its
own migrations, so this is what keeps the two lists in step."""

from __future__ import annotations

from pathlib import Path

import pytest

from manifold_pipelines.core.postgres_tables import CATALOGUE_FORMAT
from manifold_pipelines.core.tables import CORE_FORMAT
from manifold_pipelines.db.migrations import FileFormat, migrate
from manifold_pipelines.db.postgres import PostgresDatabase
from manifold_pipelines.db.sqlite import SqliteDatabase
from manifold_pipelines.versions.postgres_tables import SOURCE_FORMAT
from manifold_pipelines.versions.tables import DATA_FORMAT

PAIRS = [("catalogue", CORE_FORMAT, CATALOGUE_FORMAT), ("source", DATA_FORMAT, SOURCE_FORMAT)]


def _sqlite_tables(db: SqliteDatabase) -> dict[str, tuple[str, ...]]:
    names = [row[0] for row in db.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")]
    return {name: db.columns(name) for name in names if not name.startswith("sqlite_")}


def _postgres_tables(db: PostgresDatabase) -> dict[str, tuple[str, ...]]:
    rows = db.execute("SELECT tablename FROM pg_tables WHERE schemaname = ?", (db.schema,))
    return {row[0]: db.columns(row[0]) for row in rows if row[0] != "manifold_format"}


@pytest.mark.parametrize(("what", "sqlite_format", "postgres_format"), PAIRS)
def test_both_engines_make_the_same_tables_and_columns(
    tmp_path: Path,
    postgres_url: str,
    what: str,
    sqlite_format: FileFormat,
    postgres_format: FileFormat,
) -> None:
    lite = SqliteDatabase(tmp_path / f"{what}.db", what=what)
    pg = PostgresDatabase(postgres_url, f"parity_{what}", what=what)
    try:
        migrate(lite, sqlite_format)
        migrate(pg, postgres_format)
        assert _sqlite_tables(lite) == _postgres_tables(pg)
        assert sqlite_format.application_id == postgres_format.application_id
    finally:
        lite.close()
        pg.close()
