"""Numbered schema migrations recorded in the file itself.

`PRAGMA user_version` is the format version and `PRAGMA application_id` says which kind of
Manifold file it is. Both live in the database header and take part in the transaction, so
a migration and the record that it ran commit together or not at all.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from manifold_pipelines.db.connection import transaction
from manifold_pipelines.errors import StorageError


@dataclass(frozen=True)
class Migration:
    """One step from format `version - 1` to `version`; statements never hold user text.
    `upgrade` does what SQL alone cannot (re-hashing records), after the statements and in
    the same transaction."""

    version: int
    name: str
    statements: tuple[str, ...]
    upgrade: Callable[[sqlite3.Connection], None] | None = None


@dataclass(frozen=True)
class FileFormat:
    """A kind of Manifold file: its header id and the migrations that build it."""

    application_id: int
    label: str
    migrations: Sequence[Migration]

    @property
    def latest(self) -> int:
        return self.migrations[-1].version if self.migrations else 0


def migrate(conn: sqlite3.Connection, file_format: FileFormat, *, what: str) -> int:
    """Bring the file to the latest format and return the version it was at before.

    A file of another application or of a newer Manifold is refused rather than misread.
    A file already at the latest format is only read: opening it for a read must not queue
    behind an import that holds the write lock.
    """
    application_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
    current = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if application_id == file_format.application_id and current == file_format.latest:
        return current
    with transaction(conn, what=what):
        application_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
        current = int(conn.execute("PRAGMA user_version").fetchone()[0])
        has_tables = conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()[0] > 0
        if application_id != file_format.application_id and (application_id or has_tables):
            raise StorageError(
                f"The {what} is not a Manifold {file_format.label} (application_id"
                f" {application_id:#x}, expected {file_format.application_id:#x}). Point Manifold"
                " at its own files, or move this one aside."
            )
        if current > file_format.latest:
            raise StorageError(
                f"The {what} has format version {current}, newer than this Manifold understands"
                f" ({file_format.latest}). Upgrade manifold-pipelines to open it."
            )
        for step in file_format.migrations:
            if step.version <= current:
                continue
            for statement in step.statements:
                conn.execute(statement)
            if step.upgrade is not None:
                step.upgrade(conn)
            conn.execute(f"PRAGMA user_version = {int(step.version)}")
        conn.execute(f"PRAGMA application_id = {int(file_format.application_id)}")
    return current
