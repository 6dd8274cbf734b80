"""Numbered schema migrations recorded in the store itself.

Each store records which kind of Manifold store it is and its format version (a SQLite
file in its header's `application_id` and `user_version`, a PostgreSQL schema in its
`manifold_format` table), inside the migration's transaction, so a migration and the record
that it ran commit together or not at all. Each engine has its own list of migrations: the
tables mean the same, but their DDL is the engine's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from manifold_pipelines.db.database import Database
from manifold_pipelines.errors import StorageError


@dataclass(frozen=True)
class Migration:
    """One step from format `version - 1` to `version`; statements never hold user text.
    `upgrade` does what SQL alone cannot (re-hashing records), after the statements and in
    the same transaction."""

    version: int
    name: str
    statements: tuple[str, ...]
    upgrade: Callable[[Database], None] | None = None


@dataclass(frozen=True)
class FileFormat:
    """A kind of Manifold file: its header id and the migrations that build it."""

    application_id: int
    label: str
    migrations: Sequence[Migration]

    @property
    def latest(self) -> int:
        return self.migrations[-1].version if self.migrations else 0


def migrate(db: Database, file_format: FileFormat) -> int:
    """Bring the file to the latest format and return the version it was at before.

    A file of another application or of a newer Manifold is refused rather than misread.
    A file already at the latest format is only read: opening it for a read must not queue
    behind an import that holds the write lock.
    """
    what = db.what
    application_id, current, _ = db.read_format()
    if application_id == file_format.application_id and current == file_format.latest:
        return current
    with db.writing():
        application_id, current, has_tables = db.read_format()
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
                db.execute(statement)
            if step.upgrade is not None:
                step.upgrade(db)
            db.record_format(file_format.application_id, step.version)
        db.record_format(file_format.application_id, max(current, file_format.latest))
    return current
