"""Import history mirrored into core.db, so "what happened lately" needs no data file.

The data file commits first and is the truth; a crash before the mirror commits is healed by
comparing `mirrored_log_ids` with the file's logs before and after each import of the source.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson

from manifold_pipelines.core.models import ImportHistoryEntry
from manifold_pipelines.errors import cap_error_text
from manifold_pipelines.timestamps import from_text


class ImportHistory:
    """The import_history table over core.db's connection; writes run inside the caller's
    transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def record(self, entry: dict[str, Any]) -> None:
        """Insert one finished import; a second mirror of the same log row changes nothing.
        Its error is cut to size here too: a data file written before errors were capped may
        hold one of any length."""
        error = entry["error"]
        entry = {**entry, "error": None if error is None else cap_error_text(error)}
        self.conn.execute(
            "INSERT OR IGNORE INTO import_history (project_id, source_id, import_log_id, version,"
            " status, started_at, finished_at, duration_ms, records_processed, error,"
            " quality_status, version_status) VALUES (:project_id, :source_id,"
            " :import_log_id, :version, :status, :started_at, :finished_at, :duration_ms,"
            " :records_processed, :error, :quality_status, :version_status)",
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
            "SELECT project_id, source_id, import_log_id, version, status, started_at, finished_at,"
            " duration_ms, records_processed, error, quality_status, version_status"
            " FROM import_history"
            " WHERE (?1 IS NULL OR project_id = ?1)"
            " AND (?2 IS NULL OR source_id = ?2)"
            " AND (?4 IS NULL OR project_id IN (SELECT value FROM json_each(?4)))"
            " ORDER BY id DESC LIMIT ?3",
            (
                project_id,
                source_id,
                limit,
                None if projects is None else orjson.dumps(sorted(projects)).decode(),
            ),
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
