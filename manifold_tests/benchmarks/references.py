"""What the version store's figures are measured against, on the same records in the same run:
the floor (what any diffing importer must do), the seed-literal design (each version one whole
JSON array, diffed by loading both) on the run's own engine, and datacompy comparing the two
versions as pandas frames (what users would pick instead to compare, storing nothing)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import datacompy
import orjson
import pandas as pd
import psycopg
import xxhash

from manifold_tests.benchmarks.measure import Cost, ServerCpu, measured

SEED_LITERAL = "seed-literal (whole JSON array per version)"
SEED_TABLE = "seed_literal_versions"

Records = list[dict[str, Any]]


def floor(v2_json: bytes) -> None:
    """What any diffing importer must do with v2: parse it and hash every record."""
    for record in orjson.loads(v2_json):
        xxhash.xxh3_128_digest(orjson.dumps(record, option=orjson.OPT_SORT_KEYS))


class SeedTable(Protocol):
    """The seed's `data_versions(version, data)`, each version's whole array in `data`; named
    `seed_literal_versions` here, so that it reads as the reference it is."""

    def write(self, version: int, records: Records) -> None: ...

    def arrays(self) -> list[str]: ...

    def size(self) -> int: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class SeedLiteral:
    cost: Cost  # v2's import and its diff from v1
    changes: int  # records added, removed or modified, as the diff counted them
    bytes_added: int  # by v2


def seed_literal(
    folder: Path, v1: Records, v2: Records, database_url: str | None, server: ServerCpu | None
) -> SeedLiteral:
    """v1 stored, then v2 stored and diffed from v1 (measured) on the run's engine."""
    with _seed_table(folder, database_url) as table:
        table.write(1, v1)
        size_v1 = table.size()

        def import_and_diff() -> int:
            table.write(2, v2)
            return _changes(*table.arrays())

        cost, changes = measured(import_and_diff, server)
        return SeedLiteral(cost, changes, table.size() - size_v1)


def _changes(old_array: str, new_array: str) -> int:
    old = {r["id"]: r for r in orjson.loads(old_array)}
    new = {r["id"]: r for r in orjson.loads(new_array)}
    modified = sum(1 for key, r in new.items() if key in old and old[key] != r)
    return modified + len(new.keys() - old.keys()) + len(old.keys() - new.keys())


@contextmanager
def _seed_table(folder: Path, database_url: str | None) -> Iterator[SeedTable]:
    table: SeedTable = (
        SqliteSeedTable(folder / "seed-literal.db")
        if database_url is None
        else PostgresSeedTable(database_url)
    )
    try:
        yield table
    finally:
        table.close()


class SqliteSeedTable:
    """In a file of its own, in WAL mode as the store's files are; its size is counted after
    a checkpoint, so what v2 wrote to the WAL is in the file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute(f"CREATE TABLE {SEED_TABLE} (version INTEGER PRIMARY KEY, data TEXT)")

    def write(self, version: int, records: Records) -> None:
        self.conn.execute("BEGIN IMMEDIATE")
        data = orjson.dumps(records).decode()
        self.conn.execute(f"INSERT INTO {SEED_TABLE} VALUES (?, ?)", (version, data))
        self.conn.execute("COMMIT")

    def arrays(self) -> list[str]:
        return [row[0] for row in self.conn.execute(f"SELECT data FROM {SEED_TABLE} ORDER BY 1")]

    def size(self) -> int:
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return self.path.stat().st_size

    def close(self) -> None:
        self.conn.close()


class PostgresSeedTable:
    """In the run's database, beside the store's schemas; PostgreSQL keeps a long `data` out
    of line (TOAST), compressed, and its size counts that."""

    def __init__(self, url: str) -> None:
        self.conn = psycopg.connect(url, autocommit=True)
        self.conn.execute(f"CREATE TABLE {SEED_TABLE} (version INTEGER PRIMARY KEY, data TEXT)")

    def write(self, version: int, records: Records) -> None:
        with self.conn.transaction():
            data = orjson.dumps(records).decode()
            self.conn.execute(f"INSERT INTO {SEED_TABLE} VALUES (%s, %s)", (version, data))

    def arrays(self) -> list[str]:
        rows = self.conn.execute(f"SELECT data FROM {SEED_TABLE} ORDER BY 1").fetchall()
        return [row[0] for row in rows]

    def size(self) -> int:
        row = self.conn.execute("SELECT pg_total_relation_size(%s)", (SEED_TABLE,)).fetchone()
        assert row is not None
        return int(row[0])

    def close(self) -> None:
        self.conn.execute(f"DROP TABLE {SEED_TABLE}")
        self.conn.close()


def datacompy_changes(v1: Records, v2: Records) -> dict[str, int]:
    """Build both pandas frames and compare them with datacompy, joined on id; its counts in
    the shape of our diff summary, so the two can be checked to agree."""
    comparison = datacompy.PandasCompare(pd.DataFrame(v1), pd.DataFrame(v2), join_columns=["id"])
    added, removed = len(comparison.df2_unq_rows), len(comparison.df1_unq_rows)
    modified = len(comparison.intersect_rows) - int(comparison.count_matching_rows())
    return {
        "added": added,
        "removed": removed,
        "modified": modified,
        "totalChanges": added + removed + modified,
    }


def datacompy_compare(v1: Records, v2: Records) -> tuple[Cost, dict[str, int]]:
    """The comparison's cost, building the frames included (pandas is already loaded)."""
    return measured(lambda: datacompy_changes(v1, v2))
