"""PostgreSQL: the catalogue in the schema `manifold`, each source's versions in a schema of
its own, named from its ids (`src_` and 24 hex digits of the SHA-256 of "project/source":
PostgreSQL names are at most 63 bytes, two ids are up to 128 characters). The catalogue's
`source_schemas` view gives each source's schema for plain SQL. Nothing is on local disk.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from manifold_pipelines.backends.base import Backend
from manifold_pipelines.core.models import Project, source_label
from manifold_pipelines.core.postgres_tables import CATALOGUE_FORMAT, CATALOGUE_SCHEMA
from manifold_pipelines.core.store import CoreStore
from manifold_pipelines.db.postgres import PostgresDatabase
from manifold_pipelines.db.postgres_urls import check_url, redact_url
from manifold_pipelines.errors import ConfigError
from manifold_pipelines.files import archive_target
from manifold_pipelines.settings import Settings
from manifold_pipelines.timestamps import utc_now
from manifold_pipelines.versions.archive import write_archive
from manifold_pipelines.versions.postgres_tables import SOURCE_FORMAT
from manifold_pipelines.versions.store import VersionStore


def source_schema(project_id: str, source_id: str) -> str:
    digest = hashlib.sha256(f"{project_id}/{source_id}".encode()).hexdigest()
    return f"src_{digest[:24]}"


class PostgresBackend(Backend):
    engine = "postgresql"

    def __init__(self, settings: Settings, url: str) -> None:
        super().__init__(settings)
        self.url = url
        if not url.startswith(("postgresql://", "postgres://")):
            scheme = url.partition("://")[0] if "://" in url else "no scheme"
            raise ConfigError(
                f"The database URL ({scheme[:40]!r}; the rest is not shown, it may hold a"
                " password) is not a PostgreSQL URL. Give one of the form"
                " postgresql://user:password@host:port/dbname, or unset MANIFOLD_DATABASE_URL"
                " to keep the data in SQLite files under MANIFOLD_HOME."
            )
        check_url(url)

    def describe(self) -> str:
        return f"PostgreSQL at {redact_url(self.url)}"

    def catalogue(self, actor: str) -> CoreStore:
        db = PostgresDatabase(self.url, CATALOGUE_SCHEMA, what="catalogue")
        return CoreStore(db, actor, CATALOGUE_FORMAT)

    def _database(self, project: Project, source_id: str, *, create: bool) -> PostgresDatabase:
        label = source_label(project.id, source_id)
        schema = source_schema(project.id, source_id)
        return PostgresDatabase(
            self.url, schema, what=f"data of {label} (schema {schema})", create=create
        )

    def versions(self, project: Project, source_id: str) -> VersionStore:
        db = self._database(project, source_id, create=True)
        return VersionStore(db, source_label(project.id, source_id), SOURCE_FORMAT)

    def data_file(self, project: Project, source_id: str) -> Path:
        raise ConfigError(
            f"{source_label(project.id, source_id)} has no data file: its versions are in"
            f" {self.location(project, source_id)}."
        )

    def location(self, project: Project, source_id: str) -> str:
        return f"schema {source_schema(project.id, source_id)} in {redact_url(self.url)}"

    def has_data(self, project: Project, source_id: str) -> bool:
        db = self._database(project, source_id, create=False)
        try:
            return db.schema_exists()
        finally:
            db.close()

    def data_size(self, project: Project, source_id: str) -> int:
        db = self._database(project, source_id, create=False)
        try:
            return db.size()
        finally:
            db.close()

    def drop_data(self, project: Project, source_id: str) -> None:
        db = self._database(project, source_id, create=False)
        try:
            db.drop_schema()
        finally:
            db.close()

    def archive_data(self, project: Project, source_id: str, created_at: str) -> Path | None:
        """Every version as an archive file (gzip'd JSON Lines), restorable with
        `manifold restore`: there is no file to copy."""
        if not self.has_data(project, source_id):
            return None
        with self.versions(project, source_id) as store:
            versions = [info.version for info in store.list_versions()]
            if not versions:
                return None
            stamp = utc_now().strftime("%Y%m%dT%H%M%S%fZ")
            target = archive_target(self.settings, project.id, f"{source_id}-{stamp}.jsonl.gz")
            write_archive(store, versions, target, created_at)
        return target

    def check_data_path(self, project_id: str) -> None:
        raise ConfigError(
            f"Project {project_id!r}: data_path places SQLite data files, and this Manifold keeps"
            f" its data in PostgreSQL ({redact_url(self.url)}), where each source has a schema of"
            " its own. Leave data_path unset."
        )
