"""Import history mirrored into core.db, so "what happened lately" needs no data file.

The data file commits first and is the truth; a crash before the mirror commits is healed by
comparing `mirrored_log_ids` with the file's logs before and after each import of the source.
"""

from __future__ import annotations

from typing import Any

from manifold_pipelines.core.models import ImportHistoryEntry
from manifold_pipelines.db.database import Database
from manifold_pipelines.errors import cap_error_text
from manifold_pipelines.timestamps import from_text


class ImportHistory:
    """The import_history table over core.db's connection; writes run inside the caller's
    transaction."""

    def __init__(self, db: Database) -> None:
        self.conn = db

    def record(self, entry: dict[str, Any]) -> None:
        """Insert one finished import; a second mirror of the same log row changes nothing.
        Its error is cut to size here too: a data file written before errors were capped may
        hold one of any length."""
        error = entry["error"]
        entry = {**entry, "error": None if error is None else cap_error_text(error)}
        self.conn.execute(
            "INSERT INTO import_history (project_id, source_id, import_log_id, version,"
            " status, started_at, finished_at, duration_ms, records_processed, error,"
            " quality_status, version_status) VALUES (:project_id, :source_id,"
            " :import_log_id, :version, :status, :started_at, :finished_at, :duration_ms,"
            " :records_processed, :error, :quality_status, :version_status)"
            " ON CONFLICT (project_id, source_id, import_log_id) DO NOTHING",
            entry,
        )

    def mirrored_log_ids(self, project_id: str, source_id: str, window: int) -> set[int]:
        """The newest `window` log ids already mirrored for a source."""
        rows = self.conn.execute(
            "SELECT import_log_id FROM import_history WHERE project_id = ? AND source_id = ?"
            " ORDER BY import_log_id DESC LIMIT ?",
            (project_id, source_id, window),
        )
        return {row[0] for row in rows}

    def recent(
        self,
        project_id: str | None,
        source_id: str | None,
        limit: int,
        projects: set[str] | None = None,
    ) -> list[ImportHistoryEntry]:
        """Newest first; `projects` limits the entries to those projects (None: all)."""
        rows = self.conn.execute(
            "SELECT project_id, source_id, import_log_id, version, status, started_at, finished_at,"  # noqa: S608 (the engine's own list condition)
            " duration_ms, records_processed, error, quality_status, version_status"
            " FROM import_history"
            " WHERE (CAST(:project AS TEXT) IS NULL OR project_id = :project)"
            " AND (CAST(:source AS TEXT) IS NULL OR source_id = :source)"
            f" AND (:all_projects = 1 OR {self.conn.in_list('project_id', 'text', ':projects')})"
            " ORDER BY id DESC LIMIT :limit",
            {
                "project": project_id,
                "source": source_id,
                "limit": limit,
                "all_projects": int(projects is None),
                "projects": self.conn.list_param(sorted(projects or ())),
            },
        ).fetchall()
        return [
            ImportHistoryEntry(
                project_id=row[0],
                source_id=row[1],
                import_log_id=row[2],
                version=row[3],
                status=row[4],
                started_at=from_text(row[5]),
                finished_at=from_text(row[6]),
                duration_ms=row[7],
                records_processed=row[8],
                error=row[9],
                quality_status=row[10],
                version_status=row[11],
            )
            for row in rows
        ]
