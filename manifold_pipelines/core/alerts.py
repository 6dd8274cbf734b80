"""Raised alerts in core.db: stored once per dedup key, then delivered (or retried) by the
alert centre. All of the `alerts` table's SQL is here, so nothing above the catalogue
storage writes SQL of its own."""

from __future__ import annotations

from typing import Any

import orjson

from manifold_pipelines.core.models import Alert
from manifold_pipelines.db.database import Database
from manifold_pipelines.timestamps import from_text, now_text


class AlertLog:
    """The `alerts` table over core.db's connection; writes run inside the caller's
    transaction (CoreStore.writing), with the audit entry they go with."""

    def __init__(self, db: Database) -> None:
        self.conn = db

    def insert(
        self, kind: str, project_id: str, source_id: str, dedup_key: str, details: dict[str, Any]
    ) -> int | None:
        """The new alert's id, or None when one with the same dedup key was raised already."""
        row = self.conn.execute(
            "INSERT INTO alerts (kind, project_id, source_id, dedup_key, raised_at, details)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (dedup_key) DO NOTHING RETURNING id",
            (kind, project_id, source_id, dedup_key, now_text(), orjson.dumps(details).decode()),
        ).fetchone()
        return None if row is None else int(row[0])

    def recent(self, *, undelivered: bool = False, limit: int = 100) -> list[Alert]:
        """Newest first; with `undelivered`, only those not yet delivered."""
        rows = self.conn.execute(
            "SELECT id, kind, project_id, source_id, raised_at, details, delivered_at, attempts,"
            " last_error FROM alerts WHERE ? = 0 OR delivered_at IS NULL"
            " ORDER BY id DESC LIMIT ?",
            (int(undelivered), limit),
        ).fetchall()
        return [
            Alert(
                id=row[0],
                kind=row[1],
                project_id=row[2],
                source_id=row[3],
                raised_at=from_text(row[4]),
                details=orjson.loads(row[5]),
                delivered_at=from_text(row[6]) if row[6] else None,
                attempts=row[7],
                last_error=row[8],
            )
            for row in rows
        ]

    def record_attempt(self, alert_id: int, error: str | None) -> None:
        """One delivery attempt: delivered when `error` is None, else kept for a retry."""
        self.conn.execute(
            "UPDATE alerts SET attempts = attempts + 1, last_error = ?,"
            " delivered_at = CASE WHEN CAST(? AS TEXT) IS NULL THEN ? END WHERE id = ?",
            (error, error, now_text(), alert_id),
        )
