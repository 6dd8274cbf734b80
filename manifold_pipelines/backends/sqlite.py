"""The embedded default: core.db and one SQLite file per source under MANIFOLD_HOME (or the
project's own data folder)."""

from __future__ import annotations

from pathlib import Path

from manifold_pipelines.backends.base import Backend
from manifold_pipelines.core.models import Project, source_label
from manifold_pipelines.core.store import CoreStore
from manifold_pipelines.core.tables import CORE_FORMAT
from manifold_pipelines.db.sqlite import DATA_PAGE_SIZE, SqliteDatabase
from manifold_pipelines.files import (
    archive_file,
    data_file,
    data_file_size,
    existing_files,
    remove_files,
)
from manifold_pipelines.versions.store import VersionStore
from manifold_pipelines.versions.tables import DATA_FORMAT


class SqliteBackend(Backend):
    engine = "sqlite"

    def describe(self) -> str:
        return f"SQLite files in {self.settings.home}"

    def catalogue(self, actor: str) -> CoreStore:
        db = SqliteDatabase(self.settings.core_db_path, what="core.db")
        return CoreStore(db, actor, CORE_FORMAT)

    def versions(self, project: Project, source_id: str) -> VersionStore:
        label = source_label(project.id, source_id)
        path = data_file(self.settings, project, source_id)
        db = SqliteDatabase(
            path, what=f"data file of {label} at {str(path)!r}", page_size=DATA_PAGE_SIZE
        )
        return VersionStore(db, label, DATA_FORMAT)

    def data_file(self, project: Project, source_id: str) -> Path:
        return data_file(self.settings, project, source_id)

    def location(self, project: Project, source_id: str) -> str:
        return str(self.data_file(project, source_id))

    def has_data(self, project: Project, source_id: str) -> bool:
        return bool(existing_files(self.data_file(project, source_id)))

    def data_size(self, project: Project, source_id: str) -> int:
        return data_file_size(
            self.data_file(project, source_id), source_label(project.id, source_id)
        )

    def drop_data(self, project: Project, source_id: str) -> None:
        remove_files(self.data_file(project, source_id))

    def archive_data(self, project: Project, source_id: str, created_at: str) -> Path | None:
        """A consistent copy of the data file, restorable as the file it was."""
        return archive_file(
            self.settings, self.data_file(project, source_id), project.id, source_id
        )

    def check_data_path(self, project_id: str) -> None:
        """Any folder inside the allowed roots; the catalogue checks it is the project's own."""
