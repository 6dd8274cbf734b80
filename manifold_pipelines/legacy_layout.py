"""Reading the older single-file layout (one SQLite file for everything): `projects`,
`data_sources` and `snapshots` (id, data_source_id, data JSON array, schema, metadata,
created_at), read as they are and never written but for dropping `snapshots`.

That layout kept no keys it could rely on: a `data_sources` table without a primary key may
hold one source id in two projects, and a snapshot names its source by id alone unless its
table has a `project_id` column. A snapshot is placed by (project, source) where the layout
says so, and a source id it cannot place in exactly one source is refused before anything is
imported: a guess would put one project's data into another's.
"""

from __future__ import annotations

import sqlite3
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from manifold_pipelines.errors import ManifoldError, NotFoundError, StorageError

Snapshot = tuple[Any, Any, Any, Any, Any]
"""A legacy snapshot row: id, data, schema, metadata, created_at."""


class LegacySource(NamedTuple):
    project_id: str
    source_id: str
    name: Any
    type: Any
    config: Any

    @property
    def key(self) -> tuple[str, str]:
        return self.project_id, self.source_id


class LegacyDatabase:
    """One legacy file, opened once for a migration."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn = _open(path)
        # Without a project_id on snapshots, a snapshot's source id is all that places it.
        self.placed_by_project = "project_id" in self._columns("snapshots")

    def close(self) -> None:
        self.conn.close()

    def _columns(self, table: str) -> set[str]:
        return {row[1] for row in self.conn.execute(f"PRAGMA table_info({table})")}

    def projects(self) -> list[tuple[str, Any, Any]]:
        """(id, name, description) of every legacy project; no description column, None."""
        description = "description" if "description" in self._columns("projects") else "NULL"
        query = f"SELECT id, name, {description} FROM projects"  # noqa: S608
        return [(str(row[0]), row[1], row[2]) for row in self.conn.execute(query)]

    def sources(self) -> list[LegacySource]:
        """Every legacy source, once it is sure each snapshot belongs to exactly one."""
        config = "config" if "config" in self._columns("data_sources") else "NULL"
        query = f"SELECT id, project_id, name, type, {config} FROM data_sources"  # noqa: S608
        sources = [
            LegacySource(str(project_id), str(source_id), name, kind, raw)
            for source_id, project_id, name, kind, raw in self.conn.execute(query)
        ]
        self._check_unambiguous(sources)
        return sources

    def _check_unambiguous(self, sources: list[LegacySource]) -> None:
        for (project_id, source_id), count in Counter(s.key for s in sources).items():
            if count > 1:
                raise ManifoldError(
                    f"Legacy data_sources lists source {source_id!r} of project {project_id!r}"
                    f" {count} times, so which row is its config is unclear. Delete the extra"
                    " rows, then migrate again. Nothing was imported."
                )
        if self.placed_by_project:
            return
        projects: defaultdict[str, list[str]] = defaultdict(list)
        for source in sources:
            projects[source.source_id].append(source.project_id)
        for source_id, owners in projects.items():
            count = len(self._snapshot_rows(source_id, None)) if len(owners) > 1 else 0
            if count:
                raise ManifoldError(
                    f"Legacy source id {source_id!r} belongs to projects"
                    f" {' and '.join(sorted(owners))}, and the legacy snapshots table has no"
                    f" project_id column: its {count} snapshot(s) cannot be told apart. Give"
                    " each project's source its own id in data_sources and snapshots (or add"
                    " a project_id column to snapshots), then migrate again. Nothing was"
                    " imported."
                )

    def _snapshot_rows(self, source_id: str, project_id: str | None) -> list[Snapshot]:
        owner = "CAST(data_source_id AS TEXT) = ?"
        params = [source_id]
        if project_id is not None:
            owner += " AND CAST(project_id AS TEXT) = ?"
            params.append(project_id)
        return self.conn.execute(
            "SELECT id, data, schema, metadata, created_at FROM snapshots"  # noqa: S608
            f" WHERE {owner} ORDER BY created_at, id",
            params,
        ).fetchall()

    def snapshots(self, source: LegacySource) -> list[Snapshot]:
        """The source's snapshots, oldest first."""
        project_id = source.project_id if self.placed_by_project else None
        return self._snapshot_rows(source.source_id, project_id)

    def orphan_count(self) -> int:
        """Snapshots of no source in data_sources: left out of the migration, so it is not
        verified while there are any."""
        same = "CAST(d.id AS TEXT) = CAST(s.data_source_id AS TEXT)"
        if self.placed_by_project:
            same += " AND CAST(d.project_id AS TEXT) = CAST(s.project_id AS TEXT)"
        query = (
            "SELECT count(*) FROM snapshots s WHERE NOT EXISTS"  # noqa: S608
            f" (SELECT 1 FROM data_sources d WHERE {same})"
        )
        count: int = self.conn.execute(query).fetchone()[0]
        return count

    def drop_snapshots(self) -> None:
        self.conn.execute("DROP TABLE snapshots")
        self.conn.commit()


def _open(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise NotFoundError(f"Legacy database {str(path)!r} does not exist.")
    conn = sqlite3.connect(path)
    try:
        tables = {
            row[0] for row in conn.execute("SELECT name FROM sqlite_schema WHERE type='table'")
        }
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise StorageError(f"{str(path)!r} is not a SQLite database ({exc}).") from exc
    missing = {"projects", "data_sources", "snapshots"} - tables
    if missing:
        conn.close()
        raise StorageError(
            f"{str(path)!r} is not a legacy Manifold database: it has no table"
            f" {', '.join(sorted(missing))}. Point migrate at the old single-file database."
        )
    return conn


def snapshot_payload(snapshot: Snapshot) -> tuple[Any, Any, dict[str, Any]]:
    """A snapshot's records, schema and metadata; what cannot be read names the row."""
    snapshot_id, data, schema, metadata, _ = snapshot
    try:
        records = orjson.loads(data)
        declared = orjson.loads(schema) if schema else None
        meta = orjson.loads(metadata) if metadata else None
    except (orjson.JSONDecodeError, TypeError) as exc:
        raise ManifoldError(
            f"Legacy snapshot {snapshot_id} holds invalid JSON ({exc}). Fix or delete that row."
        ) from exc
    if not isinstance(meta, dict):
        meta = {} if meta is None else {"legacyMetadata": meta}
    if not isinstance(declared, dict):
        declared = None if declared is None else {"legacySchema": declared}
    return records, declared, meta


def snapshot_time(snapshot: Snapshot) -> datetime | None:
    """When the snapshot was taken: ISO 8601 text or a Unix time, read as UTC unless it
    says otherwise; a time no calendar holds (1e20, inf, before year 1) names the row."""
    snapshot_id, *_, created_at = snapshot
    if not created_at:
        return None
    try:
        if isinstance(created_at, (int, float)):
            return datetime.fromtimestamp(created_at, UTC)
        when = datetime.fromisoformat(str(created_at))
    except (OverflowError, OSError, ValueError) as exc:
        raise ManifoldError(
            f"Legacy snapshot {snapshot_id}: created_at {created_at!r} is not a time Manifold"
            f" can keep ({exc}); it takes ISO 8601 or a Unix time between the years 1 and"
            " 9999. Fix that row, then migrate again; nothing of its source was imported."
        ) from exc
    return when if when.tzinfo else when.replace(tzinfo=UTC)
